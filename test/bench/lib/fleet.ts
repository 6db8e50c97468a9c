/**
 * Records shaped like a fleet's, for the ingest and rollup benchmarks. The
 * shape decides what the rollups cost: an insert's rows fold into as many
 * rollup rows as they have distinct ⟨minute, target, probe, PoP⟩.
 */
import { randomBytes } from 'node:crypto'
import pLimit from 'p-limit'
import { metadataTail, rowColumns, tsvRow } from '../../../collector/ingest/tsv.ts'
import type { Store } from '../../../collector/store/client.ts'
import type { ProbeMetadata } from '../../../collector/store/probes.ts'
import { measurementsInputTable } from '../../../collector/store/schema.ts'
import type { Measurement } from '../../../probe/record.ts'
import { defaultMetadata } from '../../helpers/collector.ts'
import { validRecord } from '../../helpers/records.ts'

export interface FleetShape {
  /** Two to a network, ten to a metro. */
  probes: number
  /** Every probe measures every target. */
  targets: number
  /** The time the records cover, ending at `end`. */
  spanMs: number
}

/** How often each probe measured each target, in seconds, when `count` records cover the span. */
export const secondsBetweenSamples = (shape: FleetShape, count: number) => (shape.spanMs / 1000) * ((shape.probes * shape.targets) / count)

/** A phase as the probe writes it: milliseconds rounded to the microsecond (`span` in probe/measure/http.ts). */
const asProbeWrites = (ms: number) => Math.round(ms * 1000) / 1000

/** Random bits for `idAt`: 20 hex digits an id (18 in it, one picks the variant, one to keep to whole bytes). */
const randomHexDigits = 20

/**
 * A UUIDv7 as the probe makes it when it measures at `ms`: the time, then
 * random bits (`random` from `randomHexDigits * index`). The uuid package
 * (makeRecord's) takes 5 µs an id here, half of making a record's object.
 */
function idAt(ms: number, random: string, index: number): string {
  const time = ms.toString(16).padStart(12, '0')
  const bits = random.slice(index * randomHexDigits, (index + 1) * randomHexDigits)
  const variant = '89ab'[Number.parseInt(bits[3] as string, 16) & 3] as string
  return `${time.slice(0, 8)}-${time.slice(8)}-7${bits.slice(0, 3)}-${variant}${bits.slice(4, 7)}-${bits.slice(7, 19)}`
}

/**
 * A fleet's records: every probe measuring every target, 1 % failing, in time
 * order over the span before `end`, as a live fleet produces them (each batch
 * then covers a short stretch of time, which is what the duplicate check reads).
 */
export function fleetRecords(shape: FleetShape, count: number, offset = 0, end = Date.now()): Measurement[] {
  const random = randomBytes((count * randomHexDigits) / 2).toString('hex')
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i
    const failed = n % 100 === 0
    // Whole milliseconds, as a Date holds them (a chunk's span and end may fall between two).
    const ms = Math.floor(end - shape.spanMs + Math.floor((i * shape.spanMs) / count))
    return {
      ...validRecord,
      id: idAt(ms, random, i),
      probe: `bench-${n % shape.probes}`,
      target: `svc-${Math.floor(n / shape.probes) % shape.targets}`,
      ts: new Date(ms).toISOString(),
      pop: failed ? null : ['ams', 'fra', 'lhr', 'cdg'][n % 4] as string,
      error: failed ? 'TIMEOUT' : null,
      status: failed ? null : 200,
      connect_ms: failed ? null : asProbeWrites(5 + (n % 50) / 3),
      total_ms: failed ? null : asProbeWrites(20 + (n % 90) / 3),
    }
  })
}

/**
 * The records `fleetRecords(shape, count, 0, end)` makes, a chunk of
 * `chunkRecords` at a time: a run of tens of millions never holds them all
 * as objects, which would not fit in V8's heap.
 */
export function* fleetChunks(shape: FleetShape, count: number, chunkRecords: number, end = Date.now()): Generator<Measurement[]> {
  const start = end - shape.spanMs
  for (let offset = 0; offset < count; offset += chunkRecords) {
    const size = Math.min(chunkRecords, count - offset)
    // Each chunk the next stretch of the fleet's time, as a live fleet's rows arrive.
    yield fleetRecords({ ...shape, spanMs: (shape.spanMs * size) / count }, size, offset, start + (shape.spanMs * (offset + size)) / count)
  }
}

/** A probe's place: two probes to a network, ten to a metro, so the rollups see a fleet, not one place. */
export function fleetMetadata(shape: FleetShape, probe: string): ProbeMetadata {
  const networks = Math.max(1, Math.round(shape.probes / 2))
  const metros = Math.max(1, Math.round(shape.probes / 10))
  const index = Number(probe.split('-')[1])
  return { ...defaultMetadata, asn: 64500 + (index % networks), isp: `ISP ${index % networks}`, city: `Metro ${index % metros}` }
}

/** The records as the collector's inserts, `rowsPerInsert` TabSeparated rows each (its own encoder). */
export function fleetInserts(shape: FleetShape, records: readonly Measurement[], rowsPerInsert: number): Buffer[] {
  const tails = new Map<string, string>()
  const tailOf = (probe: string) => tails.get(probe) ?? tails.set(probe, metadataTail(fleetMetadata(shape, probe))).get(probe) as string
  const inserts: Buffer[] = []
  for (let i = 0; i < records.length; i += rowsPerInsert) {
    inserts.push(Buffer.from(records.slice(i, i + rowsPerInsert).map((record) => tsvRow(record, tailOf(record.probe))).join('')))
  }
  return inserts
}

/** The inserts written as the collector writes them: into its input table, by `writers` sessions side by side. */
export async function insertFleet(store: Store, inserts: readonly Buffer[], writers: number): Promise<void> {
  const limit = pLimit(writers)
  await Promise.all(inserts.map((data) => limit(() => store.insertTabSeparated('ingest', { table: measurementsInputTable.name, columns: rowColumns, data }))))
}
