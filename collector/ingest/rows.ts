/**
 * One request's records on their way to the store, as TabSeparated bytes.
 * Each record is encoded the moment it is read, and only its row's bytes
 * (off the JS heap) and its id are kept: a request's parsed records are never
 * all alive at once. Holding them (5,000 per request, 32 requests at a time)
 * made every young-generation collection copy them, and the rows' text built
 * by concatenation was worse still; together they were a fifth of the
 * collector's CPU at full ingest.
 */
import type { Measurement } from '../../probe/record.ts'
import type { ProbeMetadata } from '../store/probes.ts'
import type { CanonicalLineReader } from './canonical-line.ts'
import { metadataTail, tsvRow, unnamedReceipt, type Receipt } from './tsv.ts'

export interface RowBatch {
  /** The records with their probe's metadata as TabSeparated rows, one line each, in order. */
  rows: Buffer
  /** The records' ids, in the same order. */
  ids: string[]
  probe: string
  targets: string[]
  /** Earliest and latest `ts`: with probe and targets, what narrows the stored-id lookup. */
  from: string
  to: string
  /**
   * The sender says these records were never sent before (its first attempt),
   * so none can be stored already and the stored-id lookup is skipped.
   */
  firstAttempt: boolean
  /** When the collector received the rows (every row carries it): the queue reports the oldest it holds to the minute fold. */
  receivedAt: number
}

export interface RowBatchOptions {
  firstAttempt?: boolean
  /** Stamped on every row; now, by an unnamed collector, when left out. */
  receipt?: Receipt
  /** Bytes to reserve at first: the request body's size is a good guess, since a row is shorter than its JSON line. */
  sizeHint?: number
}

/** A UTF-8 character takes at most three bytes per UTF-16 code unit. */
const maxBytesPerChar = 3

/** A builder's first working buffer: a live agent's batch of 100 rows is about 25 KB. */
const scratchBytes = 64 * 1024

/** The largest working buffer kept for the next builder: a spool's batch of 5,000 rows is about 1.3 MB. */
const maxKeptScratchBytes = 4 * 1024 * 1024

/**
 * The working buffer the last finished builder gave back, lent to the next.
 *
 * Why: V8 collects the young generation whenever 32 MB of new buffers have
 * been allocated since the last collection, however little else was, and
 * each collection promotes the requests waiting for their insert, which the
 * old generation's collections then mark. A buffer per builder, sized to the
 * request's body, was a fifth of the collector's new buffer bytes at full
 * ingest. Only a finished builder gives its buffer back, and it never touches
 * it again; a builder that finds none spare (another holds it) makes its own.
 */
let spareScratch: Buffer | null = null

function borrowScratch(atLeast: number): Buffer {
  const spare = spareScratch
  if (spare && spare.length >= atLeast) {
    spareScratch = null
    return spare
  }
  return Buffer.allocUnsafe(Math.max(scratchBytes, atLeast))
}

function giveBackScratch(buffer: Buffer): void {
  if (buffer.length <= maxKeptScratchBytes && (!spareScratch || buffer.length > spareScratch.length)) spareScratch = buffer
}

/** Builds one probe's batch a record at a time (a request holds one probe's records). */
export class RowBatchBuilder {
  private buffer: Buffer
  private length = 0
  private readonly tail: string
  private readonly tailBytes: Buffer
  private readonly receivedAt: number
  private readonly ids: string[] = []
  private readonly targets = new Set<string>()
  private probe = ''
  private from = ''
  private to = ''
  private finished = false

  constructor(
    metadata: ProbeMetadata,
    private readonly options: RowBatchOptions = {},
  ) {
    const receipt = options.receipt ?? unnamedReceipt()
    this.receivedAt = receipt.receivedAt
    this.tail = metadataTail(metadata, receipt)
    this.tailBytes = Buffer.from(this.tail)
    this.buffer = borrowScratch(options.sizeHint ?? 0)
  }

  get count(): number {
    return this.ids.length
  }

  add(record: Measurement): void {
    this.assertOpen()
    const row = tsvRow(record, this.tail)
    if (this.length + row.length * maxBytesPerChar > this.buffer.length) this.grow(row.length * maxBytesPerChar)
    this.length += this.buffer.write(row, this.length)
    this.note(record.probe, record.id, record.ts, record.target)
  }

  /**
   * Adds the line at `line[start, end)` if `reader` takes it as the probe
   * writes it (canonical-line.ts), its row written straight into the batch;
   * false leaves the batch as it was, for the general path.
   */
  addCanonical(reader: CanonicalLineReader, line: Buffer, start: number, end: number): boolean {
    this.assertOpen()
    // A row is never longer than its line: the tabs are shorter than the keys they replace.
    const room = end - start + this.tailBytes.length
    if (this.length + room > this.buffer.length) this.grow(room)
    if (!reader.read(line, start, end, this.buffer, this.length, this.tailBytes)) return false
    const { id, ts, target, rowLength } = reader.found
    this.length += rowLength
    this.note(reader.context.probe, id, ts, target)
    return true
  }

  private note(probe: string, id: string, ts: string, target: string): void {
    if (this.ids.length === 0) {
      this.probe = probe
      this.from = ts
      this.to = ts
    } else if (ts < this.from) this.from = ts
    else if (ts > this.to) this.to = ts
    this.ids.push(id)
    this.targets.add(target)
  }

  /** The batch, in a buffer of its own size; the working buffer goes back for the next builder. */
  finish(): RowBatch {
    this.assertOpen()
    const rows = Buffer.from(this.buffer.subarray(0, this.length))
    giveBackScratch(this.buffer)
    this.finished = true
    return {
      rows,
      ids: this.ids,
      probe: this.probe,
      targets: [...this.targets],
      from: this.from,
      to: this.to,
      firstAttempt: this.options.firstAttempt ?? false,
      receivedAt: this.receivedAt,
    }
  }

  /** The working buffer is lent to the next builder once this one has finished. */
  private assertOpen(): void {
    if (this.finished) throw new Error('the batch is finished; start a new builder')
  }

  private grow(atLeast: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + atLeast))
    this.buffer.copy(bigger, 0, 0, this.length)
    this.buffer = bigger
  }
}

/** One probe's records as a batch. */
export function rowBatch(records: readonly Measurement[], metadata: ProbeMetadata, options: RowBatchOptions = {}): RowBatch {
  const builder = new RowBatchBuilder(metadata, options)
  for (const record of records) builder.add(record)
  return builder.finish()
}

const newline = 0x0a

/** The batch without the rows at these positions (TabSeparated escapes newlines, so a row is a line). */
export function withoutRows(batch: RowBatch, dropped: ReadonlySet<number>): RowBatch {
  const kept: Buffer[] = []
  let start = 0
  for (let i = 0; i < batch.ids.length; i++) {
    const end = batch.rows.indexOf(newline, start) + 1
    if (!dropped.has(i)) kept.push(batch.rows.subarray(start, end))
    start = end
  }
  return { ...batch, rows: Buffer.concat(kept), ids: batch.ids.filter((_, i) => !dropped.has(i)) }
}
