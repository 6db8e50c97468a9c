/**
 * Where a probe stands: its network (ASN, ISP) and place. The collector joins
 * this into every row, so analysis can group by ISP and metro without a join.
 * The agent sends it with its heartbeat; the collector keeps the latest.
 */
import { z } from 'zod'

export const probeMetadataSchema = z
  .object({
    asn: z.number().int().min(0).max(4_294_967_295).default(0),
    isp: z.string().max(256).default(''),
    country: z
      .string()
      .regex(/^([A-Za-z]{2})?$/, 'must be a two-letter ISO 3166 code')
      .transform((value) => value.toUpperCase())
      .default(''),
    city: z.string().max(256).default(''),
    lat: z.number().min(-90).max(90).nullable().default(null),
    lon: z.number().min(-180).max(180).nullable().default(null),
    tags: z.array(z.string().min(1).max(64)).max(64).default([]),
  })
  .strict()

export type ProbeMetadata = z.infer<typeof probeMetadataSchema>

/**
 * What an agent says about itself: only the fields its config sets. A field
 * it leaves out keeps what the collector has (from `probe add`), so an agent
 * configured with just a token cannot wipe its probe's place.
 */
export const metadataUpdateSchema = z
  .object({
    asn: z.number().int().min(0).max(4_294_967_295).optional(),
    isp: z.string().max(256).optional(),
    country: z
      .string()
      .regex(/^([A-Za-z]{2})?$/, 'must be a two-letter ISO 3166 code')
      .transform((value) => value.toUpperCase())
      .optional(),
    city: z.string().max(256).optional(),
    lat: z.number().min(-90).max(90).nullable().optional(),
    lon: z.number().min(-180).max(180).nullable().optional(),
    tags: z.array(z.string().min(1).max(64)).max(64).optional(),
  })
  .strict()

export type MetadataUpdate = z.infer<typeof metadataUpdateSchema>

/** What an agent reports about itself, every heartbeat. */
export const heartbeatSchema = z
  .object({
    version: z.string().min(1).max(64),
    metadata: metadataUpdateSchema.optional(),
    targets: z.number().int().min(0),
    spool_records: z.number().int().min(0),
    spool_bytes: z.number().int().min(0),
    /** Records dropped from a full spool, over the agent's lifetime (persisted across restarts). */
    dropped_total: z.number().int().min(0),
    /** Records the collector refused for good (bad lines), over the agent's lifetime. */
    rejected_total: z.number().int().min(0),
  })
  .strict()

export type Heartbeat = z.infer<typeof heartbeatSchema>
