/**
 * The wire record, v1: one JSON object per measurement, NDJSON on the wire.
 *
 * The probe owns this schema and the collector imports it, so both sides agree
 * on one definition and a record the probe writes is always one the collector
 * accepts. Times are milliseconds as floats (microsecond resolution, from
 * `performance.now()`), `null` when a phase did not happen.
 */
import { z } from 'zod'

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

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i
// ms precision, UTC: exactly what Date#toISOString() writes.
const isoUtcMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** A phase duration: finite, non-negative, bounded to a day so a clock bug cannot store nonsense. */
const phaseMs = z.number().finite().min(0).max(86_400_000).nullable()

/** Short printable identifiers; anything longer is a bug or an attack, not a name. */
const name = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !/\p{Cc}/u.test(value), 'must not contain control characters')

export const measurementSchema = z
  .object({
    id: z.string().regex(uuidV7, 'must be a UUIDv7'),
    ts: z
      .string()
      .regex(isoUtcMs, 'must be ISO-8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z')
      .refine((value) => !Number.isNaN(Date.parse(value)), 'must be a real date'),
    probe: name(128),
    target: name(256),
    kind: z.enum(measurementKinds),
    url: z.string().max(2048).nullable(),
    address: z.string().max(64).nullable(),
    pop: z
      .string()
      .max(32)
      .regex(/^[a-z0-9_-]+$/, 'must be a lower-case PoP code')
      .nullable(),
    pop_raw: z.string().max(512).nullable(),
    status: z.number().int().min(100).max(999).nullable(),
    error: z.enum(errorCodes).nullable(),
    dns_ms: phaseMs,
    connect_ms: phaseMs,
    tls_ms: phaseMs,
    ttfb_ms: phaseMs,
    total_ms: phaseMs,
    server_ms: phaseMs,
  })
  .strict()

export type Measurement = z.infer<typeof measurementSchema>

export type ValidationResult = { ok: true; record: Measurement } | { ok: false; reason: string }

/**
 * Validates one decoded record. Returns a reason naming the first bad field
 * rather than throwing, because the collector reports it per line and carries on.
 */
export function validateMeasurement(value: unknown): ValidationResult {
  const result = measurementSchema.safeParse(value)
  if (result.success) return { ok: true, record: result.data }
  const issue = result.error.issues[0]
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : 'record'
  const message = issue?.message.endsWith('received undefined') ? 'missing' : (issue?.message ?? 'invalid')
  return { ok: false, reason: `${path}: ${message}` }
}
