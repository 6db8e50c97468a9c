/**
 * Runs each target on its own interval. The first round starts at a random
 * point within the interval and every later one is jittered by ±10 %, so a
 * fleet started together does not hit a PoP in lockstep (and does not keep
 * sampling the same second of every minute). A round is several samples in
 * a row: the distribution matters, not one sample.
 */
import type { LimitFunction } from 'p-limit'
import type { Logger } from 'pino'
import { measureHttp } from '../measure/http.ts'
import { popExtractor, type PopExtractor } from '../pop.ts'
import type { Measurement } from '../record.ts'
import type { Target } from '../schedule.ts'

export interface SchedulerOptions {
  probe: string
  limit: LimitFunction
  logger: Logger
  /** Receives each round's records; resolves once they are safely stored. */
  onRound(records: Measurement[]): Promise<void>
  jitter?: number
}

interface Running {
  key: string
  timer: NodeJS.Timeout | null
}

/** The next delay: the interval, jittered both ways. */
export function jittered(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return intervalMs * (1 + jitter * (2 * random() - 1))
}

export class Scheduler {
  private running = new Map<string, Running>()
  private rounds = new Set<Promise<void>>()
  private stopped = false

  constructor(private readonly options: SchedulerOptions) {}

  get targetCount(): number {
    return this.running.size
  }

  /** Starts new targets, stops removed ones, restarts changed ones; unchanged ones keep their rhythm. */
  apply(targets: readonly Target[]): void {
    const wanted = new Map(targets.map((target) => [target.name, target]))
    for (const [name, running] of this.running) {
      const target = wanted.get(name)
      if (!target || JSON.stringify(target) !== running.key) {
        if (running.timer) clearTimeout(running.timer)
        this.running.delete(name)
      }
    }
    for (const target of targets) {
      if (this.running.has(target.name)) continue
      let extractor: PopExtractor
      try {
        extractor = popExtractor({ preset: target.pop, header: target.pop_header })
      } catch (error) {
        this.options.logger.error({ target: target.name, reason: (error as Error).message }, 'target skipped')
        continue
      }
      const running: Running = { key: JSON.stringify(target), timer: null }
      this.running.set(target.name, running)
      const intervalMs = target.interval_s * 1000
      const next = (delayMs: number) => {
        if (this.stopped || this.running.get(target.name) !== running) return
        running.timer = setTimeout(() => {
          running.timer = null
          const round = this.round(target, extractor).finally(() => this.rounds.delete(round))
          this.rounds.add(round)
          next(jittered(intervalMs, this.options.jitter ?? 0.1))
        }, delayMs)
      }
      next(Math.random() * intervalMs)
    }
  }

  private async round(target: Target, pop: PopExtractor): Promise<void> {
    const url = new URL(target.url)
    const records: Measurement[] = []
    for (let i = 0; i < target.samples; i++) {
      records.push(
        await this.options.limit(() =>
          measureHttp({
            url,
            target: target.name,
            probe: this.options.probe,
            pop,
            timeoutMs: target.timeout_ms,
            resolve: target.resolve,
          }),
        ),
      )
    }
    try {
      await this.options.onRound(records)
    } catch (error) {
      this.options.logger.error({ err: error, target: target.name }, 'could not spool a round')
    }
  }

  /** Stops starting rounds and waits for the ones in flight to finish and be stored. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const running of this.running.values()) if (running.timer) clearTimeout(running.timer)
    await Promise.all(this.rounds)
  }
}
