/**
 * The wire record's validator, compiled, for the ingest path. valibot walks
 * its schema for every record: at full ingest that was 6 µs of the
 * collector's main thread per row, a quarter of it, and the main thread was
 * what capped the rate. ajv compiles the same schema, converted to JSON
 * Schema, into one function of about a microsecond.
 *
 * valibot stays the definition and the judge. The compiled function may only
 * say yes sooner: a record it refuses goes to valibot, which decides and
 * words the reason. So it is built to be no looser — string lengths in UTF-16
 * units and patterns without the `u` flag, as JavaScript (and valibot) count
 * and match — and the schema's `check` actions, functions that JSON Schema
 * cannot hold, run after it.
 */
import { toJsonSchema } from '@valibot/to-json-schema'
import { Ajv } from 'ajv'
import type * as v from 'valibot'
import { measurementSchema, validateMeasurement, type Measurement, type ValidationResult } from '../../probe/record.ts'

type AnySchema = v.GenericSchema & { wrapped?: AnySchema; pipe?: ReadonlyArray<{ type: string; requirement?: unknown }> }

interface FieldCheck {
  key: string
  requirement: (value: unknown) => boolean
}

/** The `check` actions of each field (inside `nullable` too): what the JSON Schema leaves out. */
function fieldChecks(entries: Record<string, AnySchema>): FieldCheck[] {
  const checks: FieldCheck[] = []
  for (const [key, entry] of Object.entries(entries)) {
    const schema = entry.wrapped ?? entry
    for (const action of schema.pipe ?? []) {
      if (action.type === 'check') checks.push({ key, requirement: action.requirement as (value: unknown) => boolean })
    }
  }
  return checks
}

/**
 * ajv calls `unicode: false` deprecated (code points are its default), but it
 * is the option that counts as valibot does; the notice is dropped, nothing else.
 */
const quietAboutUnicode = {
  log: console.log,
  warn(...args: unknown[]) {
    if (!String(args[0]).startsWith('DEPRECATED: option unicode')) console.warn(...args)
  },
  error: console.error,
}

export type RecordValidator = (value: unknown) => ValidationResult

/** Compiles the wire record's schema once; the function it returns judges one decoded record. */
export function compileRecordValidator(): RecordValidator {
  const jsonSchema = toJsonSchema(measurementSchema, { errorMode: 'throw', ignoreActions: ['check'] })
  const compiled = new Ajv({ unicode: false, unicodeRegExp: false, logger: quietAboutUnicode }).compile(jsonSchema)
  const checks = fieldChecks(measurementSchema.entries as unknown as Record<string, AnySchema>)
  const passesChecks = (record: Record<string, unknown>): boolean => {
    for (const { key, requirement } of checks) {
      const field = record[key]
      if (field !== null && !requirement(field)) return false
    }
    return true
  }
  return function validateRecord(value) {
    if (compiled(value) && passesChecks(value as Record<string, unknown>)) return { ok: true, record: value as Measurement }
    return validateMeasurement(value)
  }
}
