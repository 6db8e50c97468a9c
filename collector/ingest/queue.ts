/**
 * Groups the rows of concurrent requests into few large inserts (ClickHouse
 * wants thousands of rows per insert, not one per request), bounded so that
 * a slow store turns into 429s rather than unbounded memory. Each request's
 * promise settles only after its rows are committed: an acknowledgement
 * means durable.
 *
 * Several inserts may run at once (`writers`): one insert keeps the embedded
 * engine's pipeline on about 1.2 of this machine's two cores, two keep it on
 * both. A batch that may have been sent before waits until every insert
 * begun before it has ended, so that its stored-id lookup sees them all.
 */
import type { RowBatch } from './rows.ts'
import type { WriteResult } from './writer.ts'

export interface QueueOptions {
  /** Rows held (waiting plus being written) before new requests are refused. */
  maxRows: number
  /** Write as soon as this many rows wait… */
  batchRows: number
  /** …or, while no insert runs, once the oldest waiting row has waited this long (and at once when an insert ends: group commit). */
  batchMs: number
  /** Inserts running at once; 1 when left out. */
  writers?: number
  write(batches: RowBatch[]): Promise<WriteResult>
  /**
   * How long the rows of a failed insert may still be committed by the store
   * (0 when left out). A server can finish an insert after the client gave up
   * on it; until this has passed, `oldestReceipt` keeps counting those rows,
   * so the minute fold does not fold past them while they may yet appear.
   */
  inDoubtMs?: number
  /** The clock `inDoubtMs` runs on. */
  now?(): number
  /** Called after every write, for metrics. */
  onWrite?(info: { rows: number; written: number; seconds: number; error: unknown }): void
}

export interface SubmitResult {
  stored: number
  duplicates: number
}

export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL'
  constructor(readonly retryAfterSeconds: number) {
    super('ingest queue is full')
  }
}

export class QueueClosedError extends Error {
  readonly code = 'QUEUE_CLOSED'
  constructor() {
    super('collector is shutting down')
  }
}

interface Pending {
  batch: RowBatch
  resolve(result: SubmitResult): void
  reject(error: unknown): void
}

export class IngestQueue {
  private waiting: Pending[] = []
  private waitingRows = 0
  private writingRows = 0
  private timer: NodeJS.Timeout | null = null
  private readonly writing = new Set<Promise<void>>()
  /** The batches of the inserts running now, for `oldestReceipt`. */
  private readonly writingBatches = new Set<readonly Pending[]>()
  /** The oldest receipt of each failed insert, and until when the store may still commit it. */
  private inDoubt: Array<{ receivedAt: number; until: number }> = []
  private closed = false
  /** Rows per second of recent writes, to tell a refused client how long to wait. */
  private throughput = 0

  constructor(private readonly options: QueueOptions) {}

  /** Rows accepted but not yet committed. */
  get depth(): number {
    return this.waitingRows + this.writingRows
  }

  /**
   * When the oldest rows not yet committed (or refused, and past doubt)
   * were received; undefined when none are held. Every row received before
   * it is settled, which is how far the scheduled minute fold may go.
   */
  get oldestReceipt(): number | undefined {
    let oldest: number | undefined
    const consider = (receivedAt: number) => {
      if (oldest === undefined || receivedAt < oldest) oldest = receivedAt
    }
    this.waiting.forEach((pending) => consider(pending.batch.receivedAt))
    for (const taken of this.writingBatches) taken.forEach((pending) => consider(pending.batch.receivedAt))
    const now = this.now()
    this.inDoubt.forEach((failed) => {
      if (failed.until > now) consider(failed.receivedAt)
    })
    return oldest
  }

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }

  submit(batch: RowBatch): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new QueueClosedError())
    const rows = batch.ids.length
    if (rows === 0) return Promise.resolve({ stored: 0, duplicates: 0 })
    if (this.depth + rows > this.options.maxRows) {
      const seconds = this.throughput > 0 ? Math.ceil(this.depth / this.throughput) : 1
      return Promise.reject(new QueueFullError(Math.min(Math.max(seconds, 1), 30)))
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch, resolve, reject })
      this.waitingRows += rows
      this.schedule()
    })
  }

  /** Stops taking rows and resolves once everything accepted is written. */
  async drain(): Promise<void> {
    this.closed = true
    while (this.waiting.length > 0 || this.writing.size > 0) {
      this.startWrites(true)
      await Promise.race(this.writing)
    }
  }

  private get writers(): number {
    return this.options.writers ?? 1
  }

  /** After a submit: a full batch may go now; anything less waits for the timer or a running insert's end. */
  private schedule(): void {
    this.startWrites(false)
    this.armTimer()
  }

  private armTimer(): void {
    if (this.waiting.length === 0 || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.startWrites(true)
      this.armTimer()
    }, this.options.batchMs)
  }

  /**
   * Starts inserts while a writer is free and the head of the queue may go.
   * A full batch always may. A partial one (`partialOk`: its rows are due, or
   * an insert just ended and what arrived meanwhile has waited long enough)
   * only when nothing is being written: beside a running insert it would be
   * small, and an insert of 10k rows costs the engine twice as much per row
   * as one of 25k or more.
   */
  private startWrites(partialOk: boolean): void {
    while (this.waiting.length > 0 && this.writing.size < this.writers) {
      if (this.waitingRows < this.options.batchRows && !(partialOk && this.writing.size === 0)) break
      const { taken, rows } = this.takeWrite()
      if (taken.length === 0) break // a resent batch heads the queue and must wait
      this.writingRows += rows
      this.writingBatches.add(taken)
      const write: Promise<void> = this.commit(taken, rows).finally(() => {
        this.writing.delete(write)
        this.writingBatches.delete(taken)
        this.writingRows -= rows
        // Group commit, then a timer for anything that still waits.
        this.startWrites(true)
        this.armTimer()
      })
      this.writing.add(write)
    }
    if (this.waiting.length === 0 && this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
  }

  /**
   * Up to batchRows from the head. A resent batch must see every insert begun
   * before it in its stored-id lookup, so while any insert runs the write
   * stops before the first one (and is empty when one heads the queue).
   */
  private takeWrite(): { taken: Pending[]; rows: number } {
    const taken: Pending[] = []
    let rows = 0
    const resentAllowed = this.writing.size === 0
    while (this.waiting.length > 0) {
      const next = this.waiting[0] as Pending
      if (taken.length > 0 && rows + next.batch.ids.length > this.options.batchRows) break
      if (!next.batch.firstAttempt && !resentAllowed) break
      taken.push(this.waiting.shift() as Pending)
      rows += next.batch.ids.length
    }
    this.waitingRows -= rows
    return { taken, rows }
  }

  private async commit(taken: Pending[], rows: number): Promise<void> {
    const started = process.hrtime.bigint()
    let result: WriteResult | null = null
    let failure: unknown = null
    try {
      result = await this.options.write(taken.map((pending) => pending.batch))
    } catch (error) {
      failure = error
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    // Other writers commit alongside this one: the store's rate is about this write's times their number.
    if (result && seconds > 0) this.throughput = (rows / seconds) * this.writers
    this.options.onWrite?.({ rows, written: result?.written ?? 0, seconds, error: failure })
    if (!result && this.options.inDoubtMs) {
      const receivedAt = Math.min(...taken.map((pending) => pending.batch.receivedAt))
      const now = this.now()
      // Past doubt, a failed insert no longer holds the fold back: forget those as a new one comes.
      this.inDoubt = [...this.inDoubt.filter((failed) => failed.until > now), { receivedAt, until: now + this.options.inDoubtMs }]
    }
    taken.forEach((pending, i) => {
      if (!result) return pending.reject(failure)
      const stored = result.stored[i] ?? 0
      pending.resolve({ stored, duplicates: pending.batch.ids.length - stored })
    })
  }
}
