/**
 * `probe agent --config FILE`: YAML or JSON. Every key is checked and a typo
 * is named, because an agent that silently ignores `intreval_s` measures the
 * wrong thing for months.
 */
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { parseWith, readConfigFile } from '../config-file.ts'
import { metadataUpdateSchema, type MetadataUpdate } from '../metadata.ts'
import { targetSchema } from '../schedule.ts'

const metadataFields = metadataUpdateSchema.shape

export const agentConfigSchema = z
  .object({
    collector: z
      .string()
      .url()
      .refine((value) => /^https?:\/\//i.test(value), 'must be an http:// or https:// URL'),
    token: z.string().min(1),
    probe: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be the id the probe was registered with'),
    // Where the probe stands; sent with every heartbeat.
    asn: metadataFields.asn,
    isp: metadataFields.isp,
    country: metadataFields.country,
    city: metadataFields.city,
    lat: metadataFields.lat,
    lon: metadataFields.lon,
    tags: metadataFields.tags,
    /** `remote`: fetch the targets from the collector (GET /v1/probes/:id/schedule). */
    schedule: z.literal('remote').optional(),
    targets: z.array(targetSchema).optional(),
    /** Measurements in flight at once, over all targets. */
    concurrency: z.number().int().min(1).max(256).default(8),
    heartbeat_s: z.number().min(5).max(3600).default(60),
    spool: z
      .object({
        /** The spool's bound; past it the oldest records are dropped (and counted). */
        max_bytes: z.number().int().min(4096).default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    batch: z
      .object({
        max_records: z.number().int().min(1).max(100_000).default(5000),
        /** How long a record may wait in the spool before it is sent. */
        max_wait_s: z.number().min(0.1).max(3600).default(10),
        /** The longest pause between delivery attempts while the collector is down. */
        retry_max_s: z.number().min(1).max(3600).default(300),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((config) => (config.schedule === 'remote') !== (config.targets !== undefined), {
    message: 'give either "targets" or "schedule: remote" (exactly one)',
    path: ['targets'],
  })

export type AgentConfig = z.infer<typeof agentConfigSchema>

export function parseAgentConfig(value: unknown, source = 'config'): AgentConfig {
  return parseWith(agentConfigSchema, value ?? {}, source)
}

export function loadAgentConfig(file: string): AgentConfig {
  return parseAgentConfig(readConfigFile(file), file)
}

/** The metadata fields this config sets, and only those. */
export function configuredMetadata(config: AgentConfig): MetadataUpdate | undefined {
  const fields = ['asn', 'isp', 'country', 'city', 'lat', 'lon', 'tags'] as const
  const set = Object.fromEntries(fields.filter((key) => config[key] !== undefined).map((key) => [key, config[key]]))
  return Object.keys(set).length > 0 ? (set as MetadataUpdate) : undefined
}

/** The user's state directory (XDG), one spool per probe id. */
export function defaultSpoolDir(probe: string): string {
  const state = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(state, 'catchment', 'spool', probe)
}
