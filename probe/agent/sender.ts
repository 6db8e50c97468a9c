/**
 * Delivers sealed spool segments to the collector, oldest first, as gzip
 * NDJSON. A segment leaves the spool only on an acknowledgement. Outages are
 * ridden out with exponential backoff and full jitter (so a fleet coming back
 * does not stampede the collector), and a 429's Retry-After is honoured.
 * A 4xx that can never succeed (bad lines) is logged with its reasons and the
 * segment dropped, so one bad record cannot block the spool forever.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import type { Logger } from 'pino'
import { attemptHeader } from '../protocol.ts'
import type { CollectorClient } from './collector-client.ts'
import type { Segment, Spool } from './spool.ts'

const gzip = promisify(gzipCallback)

export interface SenderOptions {
  collector: CollectorClient
  spool: Spool
  logger: Logger
  /** Seal and send the active segment once its oldest record has waited this long. */
  maxWaitMs: number
  /** Backoff bounds after a failure. */
  backoffBaseMs?: number
  backoffMaxMs?: number
}

/** What the collector said about one batch, reduced to what the agent does next. */
export type Outcome =
  | { kind: 'acknowledged'; rejected: number; reasons: unknown[] }
  | { kind: 'refused'; rejected: number; reason: string }
  | { kind: 'retry'; afterMs: number | null; reason: string }
  | { kind: 'unauthorized'; reason: string }

interface CollectorAnswer {
  accepted?: number
  rejected?: number
  errors?: unknown[]
  message?: string
}

export function interpret(status: number, body: CollectorAnswer, retryAfter: string | undefined): Outcome {
  if (status === 200) return { kind: 'acknowledged', rejected: body.rejected ?? 0, reasons: body.errors ?? [] }
  if (status === 429 || status === 503) {
    const seconds = Number(retryAfter)
    return { kind: 'retry', afterMs: Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null, reason: `collector answered ${status}` }
  }
  if (status === 401 || status === 403) return { kind: 'unauthorized', reason: body.message ?? `collector answered ${status}` }
  if (status >= 400 && status < 500 && status !== 408) {
    return { kind: 'refused', rejected: body.rejected ?? 0, reason: `collector answered ${status}: ${body.message ?? JSON.stringify(body.errors?.slice(0, 3) ?? [])}` }
  }
  return { kind: 'retry', afterMs: null, reason: `collector answered ${status}` }
}

export class Sender {
  private stopped = false
  private failures = 0
  /** Posts made of each segment still in the spool, to tell the collector which batches are new. */
  private readonly attempts = new Map<number, number>()
  private wake: (() => void) | null = null
  private loop: Promise<void> | null = null

  constructor(private readonly options: SenderOptions) {}

  start(): void {
    this.loop ??= this.run()
  }

  /** New records are on disk: look again now rather than at the next tick. */
  nudge(): void {
    this.wake?.()
  }

  private async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.wake = null
  }

  private backoffMs(): number {
    const base = this.options.backoffBaseMs ?? 1000
    const max = this.options.backoffMaxMs ?? 300_000
    // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
    return Math.random() * Math.min(max, base * 2 ** Math.min(this.failures, 20))
  }

  private async run(): Promise<void> {
    const { spool, maxWaitMs } = this.options
    while (!this.stopped) {
      if (spool.activeAgeMs() >= maxWaitMs) await spool.seal()
      const segment = spool.claimNext()
      if (!segment) {
        await this.idle(Math.max(50, maxWaitMs - spool.activeAgeMs()))
        continue
      }
      const pauseMs = await this.deliver(segment)
      if (pauseMs > 0 && !this.stopped) await this.idle(pauseMs)
    }
  }

  /** Sends one segment; returns how long to wait before the next attempt (0: go on). */
  async deliver(segment: Segment): Promise<number> {
    const { spool, logger } = this.options
    let outcome: Outcome
    try {
      const lines = await spool.read(segment)
      if (lines.length === 0) {
        await spool.acknowledge(segment)
        return 0
      }
      // Segments are sent oldest first: those before this one were acknowledged or dropped, so only
      // the one being sent (and at most the one last acknowledged) is remembered.
      for (const seq of this.attempts.keys()) if (seq < segment.seq) this.attempts.delete(seq)
      // A recovered segment counts as sent once already: the last process may have posted it.
      const attempt = (this.attempts.get(segment.seq) ?? (segment.recovered ? 1 : 0)) + 1
      this.attempts.set(segment.seq, attempt)
      outcome = await this.post(lines, attempt)
    } catch (error) {
      outcome = { kind: 'retry', afterMs: null, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message }
    }

    switch (outcome.kind) {
      case 'acknowledged':
        if (outcome.rejected > 0) {
          logger.warn({ rejected: outcome.rejected, reasons: outcome.reasons.slice(0, 5) }, 'collector rejected records; they are dropped')
        }
        await spool.acknowledge(segment, outcome.rejected)
        if (this.failures > 0) logger.info({ after: this.failures }, 'collector reachable again')
        this.failures = 0
        return 0
      case 'refused':
        logger.error({ reason: outcome.reason, records: segment.records }, 'collector refused a batch for good; it is dropped')
        await spool.acknowledge(segment, segment.records)
        this.failures = 0
        return 0
      case 'unauthorized':
        spool.release(segment)
        this.failures++
        logger.error({ reason: outcome.reason }, 'collector does not accept this probe’s token; keeping records until it does')
        return this.options.backoffMaxMs ?? 300_000
      case 'retry': {
        spool.release(segment)
        this.failures++
        const waitMs = outcome.afterMs ?? this.backoffMs()
        const log = this.failures === 1 ? logger.warn.bind(logger) : logger.debug.bind(logger)
        log({ reason: outcome.reason, retryInMs: Math.round(waitMs), spooled: spool.stats().records }, 'delivery failed; will retry')
        return waitMs
      }
    }
  }

  private async post(lines: string[], attempt: number): Promise<Outcome> {
    const body = await gzip(Buffer.from(`${lines.join('\n')}\n`))
    const response = await this.options.collector.send('POST', '/v1/measurements', body, {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
      [attemptHeader]: String(attempt),
    })
    let parsed: CollectorAnswer
    try {
      parsed = JSON.parse(response.text) as CollectorAnswer
    } catch {
      parsed = { message: response.text.slice(0, 200) }
    }
    const retryAfter = response.headers['retry-after']
    return interpret(response.status, parsed, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
  }

  /**
   * Stops the loop; then tries, until the deadline, to send what is spooled
   * (sealing the active segment first). What is left stays for the next start.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
    const { spool } = this.options
    await spool.seal()
    const until = Date.now() + deadlineMs
    for (let segment = spool.claimNext(); segment && Date.now() < until; segment = spool.claimNext()) {
      const pauseMs = await Promise.race([this.deliver(segment), sleep(Math.max(0, until - Date.now())).then(() => -1)])
      if (pauseMs !== 0) {
        spool.release(segment)
        break
      }
    }
  }
}
