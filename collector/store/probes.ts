/**
 * The probe registry: who may write, and the metadata (ASN, ISP, place)
 * joined into every row they write. Rows are versioned (ReplacingMergeTree on
 * updated_at); revoking writes a new version, so history is kept.
 */
import type { ProbeMetadata } from '../../probe/metadata.ts'
import { issueToken } from '../auth/tokens.ts'
import type { Store } from './client.ts'
import { probesTable, qualified } from './schema.ts'
import { clickhouseTime } from './time.ts'

export type { ProbeMetadata }

export interface ProbeRecord extends ProbeMetadata {
  probe: string
  selector: string
  secretSha256: string
  createdAt: string
  revokedAt: string | null
}

interface ProbeRow {
  probe: string
  selector: string
  secret_sha256: string
  asn: number
  isp: string
  country: string
  city: string
  lat: number | null
  lon: number | null
  tags: string[]
  created_at: string
  revoked_at: string | null
  updated_at: string
}

export class ProbeRegistryError extends Error {
  constructor(
    message: string,
    readonly code: 'PROBE_EXISTS' | 'PROBE_UNKNOWN' | 'PROBE_ID',
  ) {
    super(message)
  }
}

export const probeIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

function fromRow(row: ProbeRow): ProbeRecord {
  return {
    probe: row.probe,
    selector: row.selector,
    secretSha256: row.secret_sha256,
    asn: Number(row.asn),
    isp: row.isp,
    country: row.country,
    city: row.city,
    lat: row.lat === null ? null : Number(row.lat),
    lon: row.lon === null ? null : Number(row.lon),
    tags: row.tags,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  }
}

function toRow(record: ProbeRecord, updatedAt: string): ProbeRow {
  return {
    probe: record.probe,
    selector: record.selector,
    secret_sha256: record.secretSha256,
    asn: record.asn,
    isp: record.isp,
    country: record.country,
    city: record.city,
    lat: record.lat,
    lon: record.lon,
    tags: record.tags,
    created_at: record.createdAt,
    revoked_at: record.revokedAt,
    updated_at: updatedAt,
  }
}

export class ProbeRegistry {
  constructor(private readonly store: Store) {}

  private get table(): string {
    return qualified(this.store, probesTable.name)
  }

  /** Every probe's latest version, revoked ones included. */
  async list(): Promise<ProbeRecord[]> {
    const result = await this.store.client('registry').query({
      query: `SELECT * FROM ${this.table} FINAL ORDER BY probe`,
      format: 'JSONEachRow',
    })
    return (await result.json<ProbeRow>()).map(fromRow)
  }

  async get(probe: string): Promise<ProbeRecord | null> {
    return this.latestWhere('probe = {value:String}', probe)
  }

  async bySelector(selector: string): Promise<ProbeRecord | null> {
    return this.latestWhere('selector = {value:String}', selector)
  }

  private async latestWhere(condition: string, value: string): Promise<ProbeRecord | null> {
    const result = await this.store.client('registry').query({
      query: `SELECT * FROM ${this.table} FINAL WHERE ${condition}`,
      query_params: { value },
      format: 'JSONEachRow',
    })
    const [row] = await result.json<ProbeRow>()
    return row ? fromRow(row) : null
  }

  /** Registers a probe and returns its token: the only time the token exists in clear. */
  async add(probe: string, metadata: ProbeMetadata): Promise<{ token: string; record: ProbeRecord }> {
    if (!probeIdPattern.test(probe)) {
      throw new ProbeRegistryError(`probe id "${probe}" must be 1–128 of A–Z a–z 0–9 . _ : - (starting with a letter or digit)`, 'PROBE_ID')
    }
    const existing = await this.get(probe)
    if (existing && existing.revokedAt === null) {
      throw new ProbeRegistryError(`probe "${probe}" already exists; revoke it first to issue a new token`, 'PROBE_EXISTS')
    }
    const issued = issueToken()
    const now = clickhouseTime()
    const record: ProbeRecord = {
      probe,
      selector: issued.selector,
      secretSha256: issued.secretSha256,
      ...metadata,
      createdAt: now,
      revokedAt: null,
    }
    await this.write(record, now)
    return { token: issued.token, record }
  }

  async revoke(probe: string): Promise<ProbeRecord> {
    const existing = await this.get(probe)
    if (!existing) throw new ProbeRegistryError(`no probe "${probe}"`, 'PROBE_UNKNOWN')
    if (existing.revokedAt !== null) return existing
    const now = clickhouseTime()
    const revoked = { ...existing, revokedAt: now }
    await this.write(revoked, now)
    return revoked
  }

  /** Records what the probe says about itself now; the token stays the same. */
  async updateMetadata(existing: ProbeRecord, metadata: ProbeMetadata): Promise<ProbeRecord> {
    const updated: ProbeRecord = { ...existing, ...metadata }
    await this.write(updated, clickhouseTime())
    return updated
  }

  private async write(record: ProbeRecord, updatedAt: string): Promise<void> {
    await this.store.client('registry').insert({
      table: this.table,
      values: [toRow(record, updatedAt)],
      format: 'JSONEachRow',
    })
  }
}
