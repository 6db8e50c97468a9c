/**
 * The collector's config file (YAML or JSON). Every key is checked; a typo is
 * named rather than silently ignored, because an ignored `retention_dyas` is
 * a surprise months later.
 */
import { hostname } from 'node:os'
import * as v from 'valibot'
import { parseWith, readConfigFile } from '../probe/config-file.ts'
import { targetEntries } from '../probe/schedule.ts'
import { atLeast, bounded, boundedInteger } from '../probe/validation.ts'
import { defaultRetentionDays } from './store/schema.ts'
import { defaultStoreUrl } from './store/url.ts'

const scheduledTargetSchema = v.strictObject({
  ...targetEntries,
  /** Only these probes measure the target (default: all). */
  probes: v.optional(v.array(v.string())),
  /** Only probes with one of these tags measure it. */
  tags: v.optional(v.array(v.string())),
})

export type ScheduledTarget = v.InferOutput<typeof scheduledTargetSchema>

/** A PoP of the operator's own anycast network, or a correction to the built-in catalog. */
const popSchema = v.strictObject({
  code: v.pipe(v.string(), v.regex(/^[a-z0-9_-]{1,32}$/i, 'must be a PoP code as the header gives it')),
  lat: bounded(-90, 90),
  lon: bounded(-180, 180),
  city: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** Only for this provider's codes (fly, cloudflare, …); default any. */
  provider: v.optional(v.string()),
  /** Declares the PoP for these targets: a candidate for "nearest" even if no probe reaches it yet. */
  targets: v.optional(v.array(v.string())),
})

export type PopConfig = v.InferOutput<typeof popSchema>

// An absent section is parsed as {}, so its own defaults apply.
export const configSchema = v.strictObject({
  store: v.optional(v.string(), defaultStoreUrl),
  host: v.optional(v.string(), '0.0.0.0'),
  port: v.optional(boundedInteger(0, 65_535), 8080),
  /** Bearer token for the admin API (probe add/list/revoke); unset disables it. */
  admin_token: v.optional(v.pipe(v.string(), v.minLength(16))),
  retention_days: v.optional(boundedInteger(1, 36_500), defaultRetentionDays),
  ingest: v.optional(
    v.strictObject({
      max_body_bytes: atLeast(1024, 32 * 1024 * 1024),
      max_line_bytes: atLeast(512, 64 * 1024),
      queue_rows: atLeast(1, 500_000),
      batch_rows: atLeast(1, 50_000),
      batch_ms: atLeast(1, 200),
      /** Inserts running at once: two keep the embedded engine on both cores of a small machine. */
      writers: v.optional(boundedInteger(1, 16), 2),
    }),
    {},
  ),
  /** This collector's name: folding, it stamps it on the rows it receives and folds only those, so collectors sharing a store need distinct names. */
  name: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1–64 letters, digits, dots, dashes or underscores')), () => hostname().slice(0, 64)),
  rollups: v.optional(
    v.strictObject({
      /**
       * How the minute rollup is fed: `views`, a materialized view on every
       * insert; or `folded` on a schedule, which at a fleet's shape takes about
       * twice the ingest. Folded, the minute tier (and those fed from it) is
       * behind by up to `fold_every_s`; the live minutes the dashboards read
       * are not. Every collector on one store must use the same.
       */
      minute: v.optional(v.picklist(['views', 'folded']), 'views'),
      fold_every_s: v.optional(bounded(1, 3600), 60),
      /**
       * Folded, how often the minutes a collector folded are folded on into
       * the hour rollups (checked at each minute fold). A range of over two
       * days, read from the hours and days alone, reaches up to the last
       * one; shorter ranges read the minutes for what is not in the hours.
       */
      hour_fold_every_s: v.optional(bounded(1, 3600), 600),
    }),
    {},
  ),
  pops: v.optional(v.array(popSchema), () => []),
  schedule: v.optional(
    v.strictObject({
      refresh_s: v.optional(bounded(10, 86_400), 300),
      targets: v.optional(v.array(scheduledTargetSchema), () => []),
    }),
    {},
  ),
})

export type CollectorConfig = v.InferOutput<typeof configSchema>

export function parseConfig(value: unknown, source = 'config'): CollectorConfig {
  return parseWith(configSchema, value ?? {}, source)
}

export function loadConfig(file: string | undefined): CollectorConfig {
  return parseConfig(file ? readConfigFile(file) : {}, file)
}
