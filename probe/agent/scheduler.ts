/**
 * Runs each target on its own interval. The first round starts at a random
 * point within the interval and every later one is jittered by ±10 %, so a
 * fleet started together does not hit a PoP in lockstep (and does not keep
 * sampling the same second of every minute). A round is one sample, or
 * several in a row (`samples`). Its first sample resolves the name (and times
 * the lookup); the rest connect to the address it found, as RIPE Atlas sends a
 * measurement's packets to one resolved address. The round's spread is then
 * the path's, not DNS load balancing's, and a fleet does not pay a lookup per
 * sample.
 *
 * Timers are coalesced onto a tick (1 s by default, with a random phase per
 * agent): every target due within the tick runs then, and their records are
 * written to the spool with one fsync. Waking once a second instead of at
 * a hundred scattered instants halves the CPU a small device spends per
 * measurement (caches stay warm; see test/bench/agent-footprint.ts), while
 * the spread across the fleet comes from the per-agent phase and jitter.
 */
import type { LimitFunction } from 'p-limit'
import type { Logger } from 'pino'
import { measureHttp, type LookupFn } from '../measure/http.ts'
import { popExtractor, type PopExtractor } from '../pop.ts'
import type { Measurement } from '../record.ts'
import type { Target } from '../schedule.ts'

export interface SchedulerOptions {
  probe: string
  limit: LimitFunction
  logger: Logger
  /** Receives each tick's records; resolves once they are safely stored. */
  onRecords(records: Measurement[]): Promise<void>
  jitter?: number
  tickMs?: number
  /** The resolver (the system's by default). */
  lookup?: LookupFn
}

interface Scheduled {
  key: string
  target: Target
  pop: PopExtractor
  nextAt: number
  running: boolean
}

/** The next delay: the interval, jittered both ways. */
export function jittered(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return intervalMs * (1 + jitter * (2 * random() - 1))
}

export class Scheduler {
  private scheduled = new Map<string, Scheduled>()
  private ticks = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private readonly tickMs: number

  constructor(private readonly options: SchedulerOptions) {
    this.tickMs = options.tickMs ?? 1000
  }

  get targetCount(): number {
    return this.scheduled.size
  }

  /** Starts new targets, stops removed ones, restarts changed ones; unchanged ones keep their rhythm. */
  apply(targets: readonly Target[]): void {
    const wanted = new Map(targets.map((target) => [target.name, target]))
    for (const [name, entry] of this.scheduled) {
      const target = wanted.get(name)
      if (!target || JSON.stringify(target) !== entry.key) this.scheduled.delete(name)
    }
    const now = Date.now()
    for (const target of targets) {
      if (this.scheduled.has(target.name)) continue
      let pop: PopExtractor
      try {
        pop = popExtractor({ preset: target.pop, header: target.pop_header })
      } catch (error) {
        this.options.logger.error({ target: target.name, reason: (error as Error).message }, 'target skipped')
        continue
      }
      const nextAt = now + Math.random() * target.interval_s * 1000
      this.scheduled.set(target.name, { key: JSON.stringify(target), target, pop, nextAt, running: false })
    }
    if (!this.timer && !this.stopped) this.timer = setTimeout(() => this.tick(), Math.random() * this.tickMs)
  }

  private tick(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => this.tick(), this.tickMs)
    const now = Date.now()
    const due: Scheduled[] = []
    for (const entry of this.scheduled.values()) {
      if (entry.nextAt > now) continue
      const intervalMs = entry.target.interval_s * 1000
      // After a suspend or a stall, carry on from now rather than firing the missed rounds.
      const from = entry.nextAt < now - intervalMs ? now : entry.nextAt
      entry.nextAt = from + jittered(intervalMs, this.options.jitter ?? 0.1)
      // A target still busy with its last round (slow timeouts) skips this one.
      if (!entry.running) due.push(entry)
    }
    if (due.length === 0) return
    const tick = this.runTick(due).finally(() => this.ticks.delete(tick))
    this.ticks.add(tick)
  }

  private async runTick(due: Scheduled[]): Promise<void> {
    const rounds = await Promise.all(due.map((entry) => this.round(entry)))
    try {
      await this.options.onRecords(rounds.flat())
    } catch (error) {
      this.options.logger.error({ err: error }, 'could not spool measurements')
    }
  }

  private async round(entry: Scheduled): Promise<Measurement[]> {
    entry.running = true
    const { target, pop } = entry
    const url = new URL(target.url)
    const records: Measurement[] = []
    // Until a sample has resolved the name, the next one tries again.
    let address = target.resolve
    try {
      for (let i = 0; i < target.samples; i++) {
        const record = await this.options.limit(() =>
          measureHttp({ url, target: target.name, probe: this.options.probe, pop, timeoutMs: target.timeout_ms, resolve: address, lookup: this.options.lookup }),
        )
        address ??= record.address ?? undefined
        records.push(record)
      }
    } finally {
      entry.running = false
    }
    return records
  }

  /** Stops starting rounds and waits for the ones in flight to finish and be stored. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.all(this.ticks)
  }
}
