/**
 * The fast path of ingest: a line exactly as the probe writes it, read
 * straight from its bytes into its TabSeparated row.
 *
 * A probe serializes its records with `JSON.stringify`, so nearly every line
 * has the same shape: the wire record's keys in schema order, no whitespace,
 * no escapes, plain decimal numbers. For such a line, `JSON.parse`, the
 * record check and the row's text come down to two passes over its bytes
 * (find and check each value, then copy them out), and no JS object is built.
 *
 * The fast path may only say yes sooner, never yes to something the general
 * path refuses or would store differently. Whatever it does not recognise —
 * another key order, an escape, a byte outside printable ASCII, an exponent,
 * a value out of range, another probe, a time the store does not keep — it
 * leaves to the general path (ndjson.ts), which decides and words the reason.
 * So it takes only values whose row is byte for byte the one `tsvRow` writes:
 * strings that need no escaping, and numbers in the form JavaScript prints
 * them. test/collector/canonical-line.test.ts holds it to that.
 */
import { errorCodes, isRealDateTime, measurementKinds, recordLimits } from '../../probe/record.ts'
import { recordColumns } from './tsv.ts'

/** What a request's lines are checked against. */
export interface CanonicalContext {
  /** The token's probe: a line must name it, as the general path requires. */
  probe: string
  /** The times the store keeps, in the wire record's form (see `StoredTimes`). */
  earliest: string
  latest: string
}

/** What the row batch keeps of a line the fast path took. */
export interface CanonicalFields {
  id: string
  ts: string
  target: string
  /** Bytes of the row written, its tail included. */
  rowLength: number
}

/**
 * Reads a value starting at `at` (just past its key). Returns where the
 * value ends (the `,` or `}` after it), or -1 when it is not in the form the
 * fast path takes. `spans[2k]`, `spans[2k + 1]` are set to the bytes the row
 * holds for it, or -1 for NULL.
 */
type ValueReader = (line: Buffer, at: number, end: number, spans: Int32Array, slot: number) => number

interface Field {
  /** The key as `JSON.stringify` writes it, with the `{` or `,` before it. */
  key: Buffer
  read: ValueReader
}

const quote = 0x22
const backslash = 0x5c
const comma = 0x2c
const closingBrace = 0x7d
const tab = 0x09

const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39
const isHex = (byte: number) => isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
/** What a string may hold to be taken as it is: printable ASCII, less JSON's quote and the backslash both JSON and TabSeparated escape. */
const isPlain = (byte: number) => byte >= 0x20 && byte <= 0x7e && byte !== quote && byte !== backslash
const isPopChar = (byte: number) => (byte >= 0x61 && byte <= 0x7a) || isDigit(byte) || byte === 0x5f || byte === 0x2d
const endsValue = (byte: number | undefined) => byte === comma || byte === closingBrace

/** `line[at, at + other.length)` against `other`, as `Buffer.compare` orders them. */
function compareAt(line: Buffer, at: number, other: Buffer): number {
  for (let i = 0; i < other.length; i++) {
    const difference = (line[at + i] as number) - (other[i] as number)
    if (difference !== 0) return difference
  }
  return 0
}

function setSpan(spans: Int32Array, slot: number, start: number, end: number): void {
  spans[2 * slot] = start
  spans[2 * slot + 1] = end
}

/**
 * A quoted string of `min` to `max` plain characters; where the value ends,
 * or -1. Length in bytes is length in UTF-16 units here: the characters are ASCII.
 */
function plainString(line: Buffer, at: number, end: number, spans: Int32Array, slot: number, min: number, max: number): number {
  if (line[at] !== quote) return -1
  const start = at + 1
  const limit = Math.min(end - 1, start + max)
  let i = start
  while (i < limit && isPlain(line[i] as number)) i++
  if (line[i] !== quote || i - start < min || !endsValue(line[i + 1])) return -1
  setSpan(spans, slot, start, i)
  return i + 1
}

/** `null`, which the row holds as TabSeparated's NULL; where it ends, or -1. */
function nullValue(line: Buffer, at: number, end: number, spans: Int32Array, slot: number): number {
  if (at + 4 >= end || line[at] !== 0x6e || line[at + 1] !== 0x75 || line[at + 2] !== 0x6c || line[at + 3] !== 0x6c || !endsValue(line[at + 4])) return -1
  setSpan(spans, slot, -1, -1)
  return at + 4
}

const nullable = (read: ValueReader): ValueReader => (line, at, end, spans, slot) =>
  line[at] === 0x6e ? nullValue(line, at, end, spans, slot) : read(line, at, end, spans, slot)

const text = (max: number, min = 0): ValueReader => (line, at, end, spans, slot) => plainString(line, at, end, spans, slot, min, max)

/** A string that must be one of `options`. */
function oneOf(options: readonly string[]): ValueReader {
  const bytes = options.map((option) => Buffer.from(option))
  const longest = Math.max(...options.map((option) => option.length))
  return (line, at, end, spans, slot) => {
    const after = plainString(line, at, end, spans, slot, 1, longest)
    if (after < 0) return -1
    const length = after - at - 2
    for (const option of bytes) if (option.length === length && compareAt(line, at + 1, option) === 0) return after
    return -1
  }
}

/** A UUIDv7, `8-4-7xxx-[89ab]xxx-12` hex digits (probe/record.ts). */
const uuidV7: ValueReader = (line, at, end, spans, slot) => {
  const after = plainString(line, at, end, spans, slot, 36, 36)
  if (after < 0) return -1
  const start = at + 1
  for (let i = 0; i < 36; i++) {
    const byte = line[start + i] as number
    if (i === 8 || i === 13 || i === 18 || i === 23 ? byte !== 0x2d : !isHex(byte)) return -1
  }
  const variant = (line[start + 19] as number) | 0x20 // lower case
  return line[start + 14] === 0x37 && (variant === 0x38 || variant === 0x39 || variant === 0x61 || variant === 0x62) ? after : -1
}

const isoLength = 24
/** Where `YYYY-MM-DDTHH:MM:SS.mmmZ` has other than digits. */
const isoPunctuation = new Map([[4, 0x2d], [7, 0x2d], [10, 0x54], [13, 0x3a], [16, 0x3a], [19, 0x2e], [23, 0x5a]])
const isoPattern = Array.from({ length: isoLength }, (_, i) => isoPunctuation.get(i) ?? -1)

function digitsAt(line: Buffer, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) value = value * 10 + (line[i] as number) - 0x30
  return value
}

/** `YYYY-MM-DDTHH:MM:SS.mmmZ`, a real instant (as probe/record.ts checks), from `earliest` to `latest`. */
function isoTime(earliest: Buffer, latest: Buffer): ValueReader {
  return (line, at, end, spans, slot) => {
    const after = plainString(line, at, end, spans, slot, isoLength, isoLength)
    if (after < 0) return -1
    const start = at + 1
    for (let i = 0; i < isoLength; i++) {
      const expected = isoPattern[i] as number
      if (expected < 0 ? !isDigit(line[start + i] as number) : line[start + i] !== expected) return -1
    }
    const [year, month, day] = [digitsAt(line, start, 4), digitsAt(line, start + 5, 2), digitsAt(line, start + 8, 2)]
    if (!isRealDateTime(year, month, day, digitsAt(line, start + 11, 2), digitsAt(line, start + 14, 2), digitsAt(line, start + 17, 2))) return -1
    // One fixed form, so the bytes order as the times do.
    return compareAt(line, start, earliest) < 0 || compareAt(line, start, latest) > 0 ? -1 : after
  }
}

/** Exactly `name`, and no other: a probe cannot write as another. */
function exactly(name: Buffer): ValueReader {
  return (line, at, end, spans, slot) => {
    const after = plainString(line, at, end, spans, slot, name.length, name.length)
    return after >= 0 && compareAt(line, at + 1, name) === 0 ? after : -1
  }
}

/** A lower-case PoP code (probe/record.ts). */
const popCode: ValueReader = (line, at, end, spans, slot) => {
  const after = plainString(line, at, end, spans, slot, 1, recordLimits.pop)
  if (after < 0) return -1
  for (let i = at + 1; i < after - 1; i++) if (!isPopChar(line[i] as number)) return -1
  return after
}

/** An HTTP status, 100 to 999: three digits, the first not 0. */
const httpStatus: ValueReader = (line, at, end, spans, slot) => {
  const first = line[at] as number
  if (at + 3 >= end || first < 0x31 || first > 0x39 || !isDigit(line[at + 1] as number) || !isDigit(line[at + 2] as number) || !endsValue(line[at + 3])) return -1
  setSpan(spans, slot, at, at + 3)
  return at + 3
}

/**
 * Any decimal of at most 15 significant digits comes back from a double
 * unchanged, so JavaScript prints it as it was written.
 */
const maxSignificantDigits = 15

/**
 * A phase, 0 to a day in milliseconds, written as JavaScript prints it: no
 * sign, exponent, leading zero or trailing fraction zero, at most 15
 * significant digits, and not below 10⁻⁶ (which JavaScript prints with an
 * exponent).
 */
const phaseMs: ValueReader = (line, at, end, spans, slot) => {
  let i = at
  let integer = 0
  if (line[i] === 0x30) i++
  else if (isDigit(line[i] as number)) {
    while (i < end && isDigit(line[i] as number)) integer = integer * 10 + (line[i++] as number) - 0x30
  } else return -1
  let significant = integer === 0 ? 0 : i - at
  let hasFraction = false
  if (line[i] === 0x2e) {
    const fractionAt = ++i
    let leadingZeros = 0
    while (i < end && isDigit(line[i] as number)) {
      if (line[i] !== 0x30) hasFraction = true
      else if (!hasFraction) leadingZeros++
      i++
    }
    if (!hasFraction || line[i - 1] === 0x30 || (integer === 0 && leadingZeros > 5)) return -1
    significant += i - fractionAt - (integer === 0 ? leadingZeros : 0)
  }
  if (significant > maxSignificantDigits || integer > recordLimits.phaseMs || (integer === recordLimits.phaseMs && hasFraction) || !endsValue(line[i])) return -1
  setSpan(spans, slot, at, i)
  return i
}

/** How each field's value is read; every `…_ms` field is a phase. */
function valueReaders(probe: Buffer, earliest: Buffer, latest: Buffer): Record<string, ValueReader> {
  return {
    id: uuidV7,
    ts: isoTime(earliest, latest),
    probe: exactly(probe),
    target: text(recordLimits.target, 1),
    kind: oneOf(measurementKinds),
    url: nullable(text(recordLimits.url)),
    address: nullable(text(recordLimits.address)),
    pop: nullable(popCode),
    pop_raw: nullable(text(recordLimits.popRaw)),
    status: nullable(httpStatus),
    error: nullable(oneOf(errorCodes)),
  }
}

/**
 * The wire record's fields in the row's order (tsv.ts), which is the order
 * the probe writes them in (probe/measure/http.ts builds the record so).
 */
function fields(probe: Buffer, earliest: Buffer, latest: Buffer): Field[] {
  const readers = valueReaders(probe, earliest, latest)
  const phase = nullable(phaseMs)
  return recordColumns.map((column, slot) => ({
    key: Buffer.from(`${slot === 0 ? '{' : ','}"${column}":`),
    read: column.endsWith('_ms') ? phase : (readers[column] as ValueReader),
  }))
}

/** Where the fields the batch keeps are in `fields`. */
const idSlot = recordColumns.indexOf('id')
const tsSlot = recordColumns.indexOf('ts')
const targetSlot = recordColumns.indexOf('target')

/** Can appear in a canonical line as it is: the fast path takes no escapes. */
const isPlainText = (value: string, min: number, max: number) =>
  value.length >= min && value.length <= max && [...value].every((char) => isPlain(char.charCodeAt(0)))

/**
 * Reads a request's lines. One reader serves them all; nothing is allocated
 * per line but the three strings the batch keeps.
 */
export class CanonicalLineReader {
  /** Null when no line can be canonical: a probe name or a time bound the fast path cannot read. */
  private readonly fields: Field[] | null
  private readonly spans: Int32Array
  /** What `read` found in the line it last took. */
  readonly found: CanonicalFields = { id: '', ts: '', target: '', rowLength: 0 }

  constructor(readonly context: CanonicalContext) {
    const { probe, earliest, latest } = context
    const readable = isPlainText(probe, 1, recordLimits.probe) && earliest.length === isoLength && latest.length === isoLength
    this.fields = readable ? fields(Buffer.from(probe, 'latin1'), Buffer.from(earliest, 'latin1'), Buffer.from(latest, 'latin1')) : null
    this.spans = new Int32Array(2 * (this.fields?.length ?? 0))
  }

  /**
   * Writes the row of `line[start, end)` into `out` at `outAt`, ending in
   * `tail` (the probe's metadata), and returns true; or returns false,
   * having written nothing the caller keeps. `out` must have room for the
   * line's length plus the tail's: a row is never longer than its line (the
   * tabs are shorter than the keys they replace).
   */
  read(line: Buffer, start: number, end: number, out: Buffer, outAt: number, tail: Buffer): boolean {
    const { fields, spans } = this
    if (fields === null) return false
    let at = start
    for (let slot = 0; slot < fields.length; slot++) {
      const { key, read } = fields[slot] as Field
      if (at + key.length >= end || compareAt(line, at, key) !== 0) return false
      at = read(line, at + key.length, end, spans, slot)
      if (at < 0) return false
    }
    if (at !== end - 1 || line[at] !== closingBrace) return false

    let written = outAt
    for (let slot = 0; slot < fields.length; slot++) {
      if (slot > 0) out[written++] = tab
      const from = spans[2 * slot] as number
      if (from < 0) {
        out[written++] = backslash
        out[written++] = 0x4e // N
        continue
      }
      const to = spans[2 * slot + 1] as number
      for (let i = from; i < to; i++) out[written++] = line[i] as number
    }
    for (let i = 0; i < tail.length; i++) out[written++] = tail[i] as number

    const found = this.found
    found.id = line.toString('latin1', spans[2 * idSlot], spans[2 * idSlot + 1])
    found.ts = line.toString('latin1', spans[2 * tsSlot], spans[2 * tsSlot + 1])
    found.target = line.toString('latin1', spans[2 * targetSlot], spans[2 * targetSlot + 1])
    found.rowLength = written - outAt
    return true
  }
}
