/**
 * A measurement schedule: what a probe measures and how often. The agent
 * reads it from its own config or from the collector (`schedule: remote`);
 * both use this one schema, so a schedule is valid in either place.
 */
import net from 'node:net'
import * as v from 'valibot'
import { presetNames } from './pop.ts'
import { bounded, boundedInteger } from './validation.ts'

/** An absolute http(s) URL: the only kind of target the HTTP measurement can take. */
export const httpUrl = v.pipe(
  v.string(),
  v.url('must be a URL'),
  v.check((value) => /^https?:\/\//i.test(value), 'must be an http:// or https:// URL'),
)

export const targetEntries = {
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  url: httpUrl,
  /** Connect to this anycast address instead of resolving the URL's host. */
  resolve: v.optional(v.pipe(v.string(), v.check((value) => net.isIP(value) !== 0, 'must be an IPv4 or IPv6 address'))),
  pop: v.optional(v.picklist(['auto', ...presetNames]), 'auto'),
  pop_header: v.optional(v.pipe(v.string(), v.minLength(1))),
  interval_s: v.optional(bounded(1, 86_400), 60),
  /**
   * Samples in a round, back to back. One by default, as an HTTP measurement is one request in
   * RIPE Atlas, Globalping and blackbox_exporter: each sample is a full handshake on the target's
   * servers too, samples spread over the interval are less alike than a burst, and the path
   * questions take the minimum over a window of many rounds anyway.
   */
  samples: v.optional(boundedInteger(1, 100), 1),
  timeout_ms: v.optional(boundedInteger(100, 120_000), 5000),
}

export const targetSchema = v.strictObject(targetEntries)

export type Target = v.InferOutput<typeof targetSchema>

export const scheduleSchema = v.strictObject({
  targets: v.array(targetSchema),
  /** How often the agent should fetch the schedule again. */
  refresh_s: v.optional(bounded(10, 86_400), 300),
})

export type Schedule = v.InferOutput<typeof scheduleSchema>
