/**
 * Groups the rows of concurrent requests into few large inserts (ClickHouse
 * wants thousands of rows per insert, not one per request), bounded so that
 * a slow store turns into 429s rather than unbounded memory. Each request's
 * promise settles only after its rows are committed: an acknowledgement
 * means durable.
 */
import type { RowBatch } from './rows.ts'
import type { WriteResult } from './writer.ts'

export interface QueueOptions {
  /** Rows held (waiting plus being written) before new requests are refused. */
  maxRows: number
  /** Write as soon as this many rows wait… */
  batchRows: number
  /** …or when the oldest waiting row has waited this long. */
  batchMs: number
  write(batches: RowBatch[]): Promise<WriteResult>
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
  private writing: Promise<void> | null = null
  private closed = false
  /** Rows per second of recent writes, to tell a refused client how long to wait. */
  private throughput = 0

  constructor(private readonly options: QueueOptions) {}

  /** Rows accepted but not yet committed. */
  get depth(): number {
    return this.waitingRows + this.writingRows
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
    while (this.waiting.length > 0 || this.writing) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      if (!this.writing) this.startWrite()
      await this.writing
    }
  }

  private schedule(): void {
    if (this.writing) return // the running write picks the rest up when it ends
    if (this.waitingRows >= this.options.batchRows) {
      this.startWrite()
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null
        if (!this.writing) this.startWrite()
      }, this.options.batchMs)
    }
  }

  private takeWrite(): Pending[] {
    const taken: Pending[] = []
    let rows = 0
    while (this.waiting.length > 0 && (taken.length === 0 || rows + this.waiting[0]!.batch.ids.length <= this.options.batchRows)) {
      const next = this.waiting.shift() as Pending
      taken.push(next)
      rows += next.batch.ids.length
    }
    this.waitingRows -= rows
    this.writingRows = rows
    return taken
  }

  private startWrite(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const taken = this.takeWrite()
    if (taken.length === 0) return
    this.writing = this.commit(taken).finally(() => {
      this.writing = null
      this.writingRows = 0
      // Group commit: what arrived during a write has waited long enough; write it at once rather than idle until the timer.
      if (this.waiting.length > 0) this.startWrite()
    })
  }

  private async commit(taken: Pending[]): Promise<void> {
    const rows = taken.reduce((sum, pending) => sum + pending.batch.ids.length, 0)
    const started = process.hrtime.bigint()
    let result: WriteResult | null = null
    let failure: unknown = null
    try {
      result = await this.options.write(taken.map((pending) => pending.batch))
    } catch (error) {
      failure = error
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (result && seconds > 0) this.throughput = rows / seconds
    this.options.onWrite?.({ rows, written: result?.written ?? 0, seconds, error: failure })
    taken.forEach((pending, i) => {
      if (!result) return pending.reject(failure)
      const stored = result.stored[i] ?? 0
      pending.resolve({ stored, duplicates: pending.batch.ids.length - stored })
    })
  }
}
