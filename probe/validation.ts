/**
 * Turning a validator's complaint into the one line a person acts on. Every
 * schema in catchment (wire record, heartbeat, agent and collector configs)
 * is a valibot schema: it loads in about a tenth of the memory zod took, which
 * matters to a probe agent on a small device, and validates records faster.
 */
import * as v from 'valibot'

/** A number within bounds (so never NaN or infinite). */
export function bounded(min: number, max: number) {
  return v.pipe(v.number(), v.minValue(min), v.maxValue(max))
}

/** A whole number within bounds. */
export function boundedInteger(min: number, max: number) {
  return v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))
}

/** An optional whole number of at least `min` (a size or a count), `fallback` when left out. */
export function atLeast(min: number, fallback: number) {
  return v.optional(boundedInteger(min, Number.MAX_SAFE_INTEGER), fallback)
}

export type Issue = v.BaseIssue<unknown>

/** Where the problem is and what kind it is, before any wording. */
export interface IssueFacts {
  /** Dotted key path (`targets.0.url`), null for the value as a whole. */
  path: string | null
  /** A key the schema does not have: usually a typo, so it is named, not ignored. */
  unknownKey: boolean
  /** A required key that is absent. */
  missing: boolean
  message: string
}

export function issueFacts(issue: Issue): IssueFacts {
  const objectKey = issue.kind === 'schema' && (issue.type === 'strict_object' || issue.type === 'object') && issue.path !== undefined
  return {
    path: v.getDotPath(issue),
    unknownKey: objectKey && issue.type === 'strict_object' && issue.expected === 'never',
    missing: objectKey && issue.received === 'undefined',
    message: issue.message,
  }
}

/** The first problem as `source: key.path: message`, the way a person fixes a config. */
export function describeIssue(issues: readonly Issue[], source: string): string {
  const issue = issues[0]
  if (!issue) return `${source}: invalid`
  const facts = issueFacts(issue)
  if (facts.unknownKey) return `${source}: unknown key "${facts.path}"`
  return `${source}: ${facts.path ?? 'config'}: ${facts.missing ? 'missing (required)' : facts.message}`
}
