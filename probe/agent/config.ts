/**
 * `probe agent --config FILE`: YAML or JSON. Every key is checked and a typo
 * is named, because an agent that silently ignores `intreval_s` measures the
 * wrong thing for months.
 */
import os from 'node:os'
import path from 'node:path'
import * as v from 'valibot'
import { parseWith, readConfigFile } from '../config-file.ts'
import { metadataUpdateEntries, type MetadataUpdate } from '../metadata.ts'
import { httpUrl, targetSchema } from '../schedule.ts'
import { atLeast, bounded, boundedInteger } from '../validation.ts'

export const agentConfigSchema = v.pipe(
  v.strictObject({
    collector: httpUrl,
    token: v.pipe(v.string(), v.minLength(1)),
    probe: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be the id the probe was registered with')),
    // Where the probe stands; sent with every heartbeat.
    ...metadataUpdateEntries,
    /** `remote`: fetch the targets from the collector (GET /v1/probes/:id/schedule). */
    schedule: v.optional(v.literal('remote')),
    targets: v.optional(v.array(targetSchema)),
    /** Measurements in flight at once, over all targets. */
    concurrency: v.optional(boundedInteger(1, 256), 8),
    heartbeat_s: v.optional(bounded(5, 3600), 60),
    // An absent section is parsed as {}, so its own defaults apply.
    spool: v.optional(
      v.strictObject({
        /** The spool's bound; past it the oldest records are dropped (and counted). */
        max_bytes: atLeast(4096, 64 * 1024 * 1024),
      }),
      {},
    ),
    batch: v.optional(
      v.strictObject({
        max_records: v.optional(boundedInteger(1, 100_000), 5000),
        /** How long a record may wait in the spool before it is sent. */
        max_wait_s: v.optional(bounded(0.1, 3600), 10),
        /** The longest pause between delivery attempts while the collector is down. */
        retry_max_s: v.optional(bounded(1, 3600), 300),
      }),
      {},
    ),
  }),
  v.forward(
    v.check((config) => (config.schedule === 'remote') !== (config.targets !== undefined), 'give either "targets" or "schedule: remote" (exactly one)'),
    ['targets'],
  ),
)

export type AgentConfig = v.InferOutput<typeof agentConfigSchema>

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
