/**
 * The wire record, v1: one JSON object per measurement, NDJSON on the wire.
 *
 * The probe owns this schema and the collector imports it, so both sides agree
 * on one definition and a record the probe writes is always one the collector
 * accepts. Times are milliseconds as floats (microsecond resolution, from
 * `performance.now()`), `null` when a phase did not happen.
 */
import * as v from 'valibot'
import { bounded, boundedInteger, issueFacts } from './validation.ts'

/** Stable error codes: scripts and dashboards group by these, so never rename one. */
export const errorCodes = [
  'TIMEOUT',
  'DNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'TLS',
  'TLS_CERT',
  'PROTOCOL',
  'HTTP_4XX',
  'HTTP_5XX',
  'NETWORK',
] as const
export type ErrorCode = (typeof errorCodes)[number]

export const measurementKinds = ['http', 'dns', 'tcp'] as const
export type MeasurementKind = (typeof measurementKinds)[number]

// Patterns without flags: the collector compiles this schema to JSON Schema, which has none (collector/ingest/record-check.ts).
const uuidV7 = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/
// ms precision, UTC: exactly what Date#toISOString() writes.
const isoUtcMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** The number written in `count` digits at `at` (the pattern has made sure they are digits). */
function digitsAt(value: string, at: number, count: number): number {
  let number = 0
  for (let i = at; i < at + count; i++) number = number * 10 + value.charCodeAt(i) - 48
  return number
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/**
 * A calendar date and a clock time that exist (given the format's pattern):
 * no 30 February, no hour 24, no second 60. Date.parse rolls the first two
 * over into the next month or day, and ClickHouse refuses them, failing a
 * whole insert. Read from the digits: 80 ns, against 320 ns for Date.parse and
 * reading the result back, on every record the collector takes.
 */
function isRealInstant(value: string): boolean {
  return isRealDateTime(digitsAt(value, 0, 4), digitsAt(value, 5, 2), digitsAt(value, 8, 2), digitsAt(value, 11, 2), digitsAt(value, 14, 2), digitsAt(value, 17, 2))
}

/** The rule `isRealInstant` applies, on numbers already read (the collector's fast path reads them from bytes). */
export function isRealDateTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour < 24 && minute < 60 && second < 60
}

/** The schema's bounds, shared with the collector's fast path (collector/ingest/canonical-line.ts), which must be no looser. */
export const recordLimits = { probe: 128, target: 256, url: 2048, address: 64, pop: 32, popRaw: 512, phaseMs: 86_400_000 } as const

/** A phase duration: non-negative, bounded to a day so a clock bug cannot store nonsense. */
const phaseMs = v.nullable(bounded(0, recordLimits.phaseMs))

/** Short printable identifiers; anything longer is a bug or an attack, not a name. */
const name = (max: number) =>
  v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(max),
    // Unicode's control characters (Cc) are exactly these two ranges; naming them is the point.
    // eslint-disable-next-line no-control-regex
    v.regex(/^[^\x00-\x1f\x7f-\x9f]*$/, 'must not contain control characters'),
  )

const optionalText = (max: number) => v.nullable(v.pipe(v.string(), v.maxLength(max)))

export const measurementSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(uuidV7, 'must be a UUIDv7')),
  ts: v.pipe(
    v.string(),
    v.regex(isoUtcMs, 'must be ISO-8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z'),
    // ClickHouse refuses 2026-02-30, failing the whole insert.
    v.check(isRealInstant, 'must be a real date and time'),
  ),
  probe: name(recordLimits.probe),
  target: name(recordLimits.target),
  kind: v.picklist(measurementKinds),
  url: optionalText(recordLimits.url),
  address: optionalText(recordLimits.address),
  pop: v.nullable(v.pipe(v.string(), v.maxLength(recordLimits.pop), v.regex(/^[a-z0-9_-]+$/, 'must be a lower-case PoP code'))),
  pop_raw: optionalText(recordLimits.popRaw),
  status: v.nullable(boundedInteger(100, 999)),
  error: v.nullable(v.picklist(errorCodes)),
  dns_ms: phaseMs,
  connect_ms: phaseMs,
  tls_ms: phaseMs,
  ttfb_ms: phaseMs,
  total_ms: phaseMs,
  server_ms: phaseMs,
})

export type Measurement = v.InferOutput<typeof measurementSchema>

export type ValidationResult = { ok: true; record: Measurement } | { ok: false; reason: string }

/**
 * Validates one decoded record. Returns a reason naming the first bad field
 * rather than throwing, because the collector reports it per line and carries on.
 */
export function validateMeasurement(value: unknown): ValidationResult {
  // An array passes as an object to the schema; say what it is instead of listing every missing key.
  if (Array.isArray(value)) return { ok: false, reason: 'record: must be a JSON object, not an array' }
  const result = v.safeParse(measurementSchema, value)
  if (result.success) return { ok: true, record: result.output }
  const issue = issueFacts(result.issues[0])
  if (issue.unknownKey) return { ok: false, reason: `record: unknown key "${issue.path}"` }
  return { ok: false, reason: `${issue.path ?? 'record'}: ${issue.missing ? 'missing' : issue.message}` }
}
