/**
 * The collector's config file (YAML or JSON). Every key is checked; a typo is
 * named rather than silently ignored, because an ignored `retention_dyas` is
 * a surprise months later.
 */
import { z } from 'zod'
import { parseWith, readConfigFile } from '../probe/config-file.ts'
import { targetSchema } from '../probe/schedule.ts'
import { defaultRetentionDays } from './store/schema.ts'
import { defaultStoreUrl } from './store/url.ts'

const scheduledTargetSchema = targetSchema
  .extend({
    /** Only these probes measure the target (default: all). */
    probes: z.array(z.string()).optional(),
    /** Only probes with one of these tags measure it. */
    tags: z.array(z.string()).optional(),
  })
  .strict()

export type ScheduledTarget = z.infer<typeof scheduledTargetSchema>

/** A PoP of the operator's own anycast network, or a correction to the built-in catalog. */
const popSchema = z
  .object({
    code: z.string().regex(/^[a-z0-9_-]{1,32}$/i, 'must be a PoP code as the header gives it'),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
    city: z.string().max(256).optional(),
    /** Only for this provider's codes (fly, cloudflare, …); default any. */
    provider: z.string().optional(),
    /** Declares the PoP for these targets: a candidate for "nearest" even if no probe reaches it yet. */
    targets: z.array(z.string()).optional(),
  })
  .strict()

export type PopConfig = z.infer<typeof popSchema>

export const configSchema = z
  .object({
    store: z.string().default(defaultStoreUrl),
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65_535).default(8080),
    /** Bearer token for the admin API (probe add/list/revoke); unset disables it. */
    admin_token: z.string().min(16).optional(),
    retention_days: z.number().int().min(1).max(36_500).default(defaultRetentionDays),
    ingest: z
      .object({
        max_body_bytes: z.number().int().min(1024).default(32 * 1024 * 1024),
        max_line_bytes: z.number().int().min(512).default(64 * 1024),
        queue_rows: z.number().int().min(1).default(500_000),
        batch_rows: z.number().int().min(1).default(50_000),
        batch_ms: z.number().int().min(1).default(200),
      })
      .strict()
      // prefault: an absent section is parsed as {}, so its own defaults apply.
      .prefault({}),
    pops: z.array(popSchema).default([]),
    schedule: z
      .object({
        refresh_s: z.number().min(10).max(86_400).default(300),
        targets: z.array(scheduledTargetSchema).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()

export type CollectorConfig = z.infer<typeof configSchema>

export function parseConfig(value: unknown, source = 'config'): CollectorConfig {
  return parseWith(configSchema, value ?? {}, source)
}

export function loadConfig(file: string | undefined): CollectorConfig {
  return parseConfig(file ? readConfigFile(file) : {}, file)
}
