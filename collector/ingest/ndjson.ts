/**
 * Splits an NDJSON batch into valid records and rejected lines. One bad line
 * never costs the good ones: each is judged alone and reported by number.
 */
import type { Measurement } from '../../probe/record.ts'
import { CanonicalLineReader } from './canonical-line.ts'
import type { RecordValidator } from './record-check.ts'

export interface RejectedLine {
  /** 1-based, as an editor shows it. */
  line: number
  reason: string
}

export interface ParseOptions {
  maxLineBytes: number
  /** The probe the token belongs to: a probe cannot write as another. */
  probe: string
  /** The wire record's validator, compiled once (record-check.ts). */
  validate: RecordValidator
  /** The times the store keeps; a record outside them is refused rather than accepted and lost (see `storedTimes`). */
  times: StoredTimes
}

/**
 * Bounds as the wire record writes times. A `ts` the schema passed has that
 * fixed ISO-8601 form, so comparing the text orders it as time does, and
 * the hot path parses no date a second time.
 */
export interface StoredTimes {
  earliest: string
  latest: string
  retentionDays: number
}

const dayMs = 86_400_000

/**
 * The times a record may carry now. Older than the retention, the store's TTL
 * drops a row the moment it is written, after the probe was told it was
 * stored; more than a day ahead, a probe's clock is wrong and its rows would
 * sit beyond every dashboard's "now".
 */
export function storedTimes(retentionDays: number, now = Date.now()): StoredTimes {
  return { earliest: new Date(now - retentionDays * dayMs).toISOString(), latest: new Date(now + dayMs).toISOString(), retentionDays }
}

const newline = 0x0a
const utf8 = new TextDecoder('utf-8', { fatal: true })

function judgeLine(bytes: Buffer, options: ParseOptions): Measurement | string {
  if (bytes.length > options.maxLineBytes) return `line is ${bytes.length} bytes, more than the limit of ${options.maxLineBytes}`
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return 'line is not valid UTF-8'
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `not JSON: ${(error as Error).message}`
  }
  const result = options.validate(value)
  if (!result.ok) return result.reason
  const { record } = result
  if (record.probe !== options.probe) {
    return `probe: "${record.probe}" is not the probe this token belongs to ("${options.probe}")`
  }
  if (record.ts < options.times.earliest) return `ts: older than the ${options.times.retentionDays} days the store keeps`
  if (record.ts > options.times.latest) return `ts: more than a day ahead of the collector's clock; check the probe's clock`
  return record
}

/** Where the valid records go: a row batch (rows.ts). */
export interface RecordSink {
  /** Takes a line as the probe writes it, read straight from its bytes; false leaves it to the general path. */
  addCanonical(reader: CanonicalLineReader, line: Buffer, start: number, end: number): boolean
  /** Takes a record the general path decoded and validated. */
  add(record: Measurement): void
}

/**
 * Hands each valid record to `sink` as soon as its line is read, rather
 * than returning them all: the sink encodes it and lets it go, so a batch's
 * records are never all on the heap at once (see rows.ts). A line in the
 * probe's own form goes by the fast path (canonical-line.ts); any other is
 * decoded, validated and judged here. Returns the rejected lines.
 */
export function parseBatch(body: Buffer, options: ParseOptions, sink: RecordSink): RejectedLine[] {
  const rejected: RejectedLine[] = []
  const reader = new CanonicalLineReader({ probe: options.probe, earliest: options.times.earliest, latest: options.times.latest })
  let start = 0
  for (let line = 1; start < body.length; line++) {
    let end = body.indexOf(newline, start)
    if (end < 0) end = body.length
    let stop = end
    if (stop > start && body[stop - 1] === 0x0d) stop-- // tolerate CRLF
    if (stop > start && !(stop - start <= options.maxLineBytes && sink.addCanonical(reader, body, start, stop))) {
      const verdict = judgeLine(body.subarray(start, stop), options)
      if (typeof verdict === 'string') rejected.push({ line, reason: verdict })
      else sink.add(verdict)
    }
    start = end + 1
  }
  return rejected
}
