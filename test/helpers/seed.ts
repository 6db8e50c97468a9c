/**
 * Constructed measurement sets for detection tests: a probe at a place, in an
 * ASN, answered by given PoPs with given connect times, one sample a minute
 * ending now. Written through the collector's own writer, so the rollup is
 * built exactly as in production.
 */
import { writeRows } from '../../collector/ingest/writer.ts'
import type { Store } from '../../collector/store/client.ts'
import { ProbeRegistry } from '../../collector/store/probes.ts'
import { makeRecord } from './records.ts'

export interface SeededProbe {
  probe: string
  target: string
  asn: number
  isp?: string
  city?: string
  country?: string
  lat: number
  lon: number
  /** One entry per minute, oldest first: the PoP that answered… */
  pops: string[]
  /** …and its connect time (a single number: the same every minute). */
  rtts: number[] | number
  /** Minutes between the last sample and now. */
  endsMinutesAgo?: number
}

export async function seedProbe(store: Store, seeded: SeededProbe): Promise<void> {
  const registry = new ProbeRegistry(store)
  const existing = await registry.get(seeded.probe)
  const metadata = {
    asn: seeded.asn,
    isp: seeded.isp ?? `AS${seeded.asn}`,
    country: seeded.country ?? 'NL',
    city: seeded.city ?? 'Amsterdam',
    lat: seeded.lat,
    lon: seeded.lon,
    tags: [],
  }
  const record = existing ?? (await registry.add(seeded.probe, metadata)).record
  const end = Date.now() - (seeded.endsMinutesAgo ?? 0) * 60_000
  const count = seeded.pops.length
  const records = seeded.pops.map((pop, i) =>
    makeRecord({
      probe: seeded.probe,
      target: seeded.target,
      pop,
      connect_ms: typeof seeded.rtts === 'number' ? seeded.rtts : (seeded.rtts[i] as number),
      ts: new Date(end - (count - 1 - i) * 60_000).toISOString(),
    }),
  )
  await writeRows(store, records, { ...record, ...metadata })
}

/** A point `km` east of (lat 0, lon 0) along the equator: distances along it are exact. */
export function kmEast(km: number): { lat: number; lon: number } {
  return { lat: 0, lon: (km / (2 * Math.PI * 6371.0088)) * 360 }
}
