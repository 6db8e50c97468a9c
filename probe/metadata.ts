/**
 * Where a probe stands: its network (ASN, ISP) and place. The collector joins
 * this into every row, so analysis can group by ISP and metro without a join.
 * The agent sends it with its heartbeat; the collector keeps the latest.
 */
import * as v from 'valibot'
import { bounded, boundedInteger } from './validation.ts'

const country = v.pipe(v.string(), v.regex(/^([A-Za-z]{2})?$/, 'must be a two-letter ISO 3166 code'), v.toUpperCase())
const text = v.pipe(v.string(), v.maxLength(256))
const tags = v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.maxLength(64))

/** The metadata fields and their checks; each schema below says which may be left out. */
const metadataFields = {
  asn: boundedInteger(0, 4_294_967_295),
  isp: text,
  country,
  city: text,
  lat: v.nullable(bounded(-90, 90)),
  lon: v.nullable(bounded(-180, 180)),
  tags,
}

export const probeMetadataSchema = v.strictObject({
  asn: v.optional(metadataFields.asn, 0),
  isp: v.optional(metadataFields.isp, ''),
  country: v.optional(metadataFields.country, ''),
  city: v.optional(metadataFields.city, ''),
  lat: v.optional(metadataFields.lat, null),
  lon: v.optional(metadataFields.lon, null),
  tags: v.optional(metadataFields.tags, () => []),
})

export type ProbeMetadata = v.InferOutput<typeof probeMetadataSchema>

/**
 * What an agent says about itself: only the fields its config sets. A field
 * it leaves out keeps what the collector has (from `probe add`), so an agent
 * configured with just a token cannot wipe its probe's place.
 */
export const metadataUpdateEntries = {
  asn: v.optional(metadataFields.asn),
  isp: v.optional(metadataFields.isp),
  country: v.optional(metadataFields.country),
  city: v.optional(metadataFields.city),
  lat: v.optional(metadataFields.lat),
  lon: v.optional(metadataFields.lon),
  tags: v.optional(metadataFields.tags),
}

export const metadataUpdateSchema = v.strictObject(metadataUpdateEntries)

export type MetadataUpdate = v.InferOutput<typeof metadataUpdateSchema>

const count = v.pipe(v.number(), v.integer(), v.minValue(0))

/** What an agent reports about itself, every heartbeat. */
export const heartbeatSchema = v.strictObject({
  version: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  metadata: v.optional(metadataUpdateSchema),
  targets: count,
  spool_records: count,
  spool_bytes: count,
  /** Records dropped from a full spool, over the agent's lifetime (persisted across restarts). */
  dropped_total: count,
  /** Records the collector refused for good (bad lines), over the agent's lifetime. */
  rejected_total: count,
})

export type Heartbeat = v.InferOutput<typeof heartbeatSchema>
