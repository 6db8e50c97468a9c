/**
 * Writes rows to ClickHouse exactly once per record id. A probe retries a
 * batch whenever it did not see the acknowledgement, so the same ids arrive
 * again; they are dropped here, before the insert, which also keeps the
 * per-minute rollup (fed by a materialized view on insert) from counting them
 * twice.
 */
import type { Measurement } from '../../probe/record.ts'
import type { Store } from '../store/client.ts'
import type { ProbeMetadata } from '../store/probes.ts'
import { measurementsInputTable, measurementsTable, qualified } from '../store/schema.ts'
import { rowBatch, withoutRows, type RowBatch } from './rows.ts'
import { rowColumns } from './tsv.ts'

export interface WriteResult {
  /** Per batch, in order: how many of its records were written; the rest were already stored or repeated. */
  stored: number[]
  written: number
}

function distinct<T>(values: Iterable<T>): T[] {
  return [...new Set(values)]
}

/**
 * Buffers that held an insert's rows, kept for the next inserts. An insert's
 * 50,000 rows are about 12 MB, a new one every quarter of a second at full
 * ingest, and every 32 MB of new buffers costs V8 a young-generation
 * collection (rows.ts). The embedded engine reads the payload where it lies,
 * so a buffer is reused only once its insert has ended.
 */
const spareInsertBuffers: Buffer[] = []

/** As many as inserts run at once, by default and with a few more writers. */
const maxSpareInsertBuffers = 4

/** The parts, one after another, in a spare buffer when one is large enough. Give it back with `giveBackInsertBuffer`. */
function joinInSpare(parts: readonly Buffer[]): { buffer: Buffer; data: Buffer } {
  const bytes = parts.reduce((sum, part) => sum + part.length, 0)
  const index = spareInsertBuffers.findIndex((spare) => spare.length >= bytes)
  // Room to spare, so that the next insert, a little larger, still fits.
  const buffer = index >= 0 ? (spareInsertBuffers.splice(index, 1)[0] as Buffer) : Buffer.allocUnsafe(Math.ceil(bytes * 1.25))
  let offset = 0
  for (const part of parts) offset += part.copy(buffer, offset)
  return { buffer, data: buffer.subarray(0, bytes) }
}

function giveBackInsertBuffer(buffer: Buffer): void {
  spareInsertBuffers.push(buffer)
  // Keep the largest: an insert that found none large enough made its own.
  spareInsertBuffers.sort((a, b) => b.length - a.length)
  spareInsertBuffers.length = Math.min(spareInsertBuffers.length, maxSpareInsertBuffers)
}

/** Which of these batches' ids are already stored. The key prefix (target, probe, ts) keeps the lookup narrow. */
async function storedIds(store: Store, batches: readonly RowBatch[]): Promise<Set<string>> {
  if (batches.length === 0) return new Set()
  let from = batches[0]!.from
  let to = batches[0]!.to
  for (const batch of batches) {
    if (batch.from < from) from = batch.from
    if (batch.to > to) to = batch.to
  }
  const result = await store.client('ingest').query({
    // Not `AS id`: ClickHouse would let the alias shadow the column in WHERE.
    query: `SELECT toString(id) AS stored_id FROM ${qualified(store, measurementsTable.name)}
      WHERE target IN {targets:Array(String)} AND probe IN {probes:Array(String)}
        AND ts BETWEEN parseDateTime64BestEffort({from:String}, 3, 'UTC') AND parseDateTime64BestEffort({to:String}, 3, 'UTC')
        AND id IN {ids:Array(UUID)}`,
    query_params: {
      targets: distinct(batches.flatMap((batch) => batch.targets)),
      probes: distinct(batches.map((batch) => batch.probe)),
      from,
      to,
      ids: batches.flatMap((batch) => batch.ids),
    },
    format: 'JSONEachRow',
  })
  return new Set((await result.json<{ stored_id: string }>()).map((row) => row.stored_id))
}

/**
 * Writes the batches in one insert. Only batches that may have been sent
 * before are looked up; ids repeated within or across the batches are always
 * dropped. A batch that lost rows to either is cut down to the rest.
 */
export async function writeBatches(store: Store, batches: readonly RowBatch[]): Promise<WriteResult> {
  const duplicates = await storedIds(
    store,
    batches.filter((batch) => !batch.firstAttempt),
  )
  const seen = new Set<string>()
  const parts: Buffer[] = []
  const stored = batches.map((batch) => {
    const dropped = new Set<number>()
    batch.ids.forEach((id, i) => {
      if (duplicates.has(id) || seen.has(id)) dropped.add(i)
      seen.add(id)
    })
    parts.push(dropped.size === 0 ? batch.rows : withoutRows(batch, dropped).rows)
    return batch.ids.length - dropped.size
  })
  const written = stored.reduce((sum, count) => sum + count, 0)
  if (written === 0) return { stored, written }
  const { buffer, data } = joinInSpare(parts)
  try {
    await store.insertTabSeparated('ingest', { table: measurementsInputTable.name, columns: rowColumns, data })
  } finally {
    giveBackInsertBuffer(buffer)
  }
  return { stored, written }
}

/** One probe's records, looked up and written as a retry would be. */
export function writeRows(store: Store, records: readonly Measurement[], metadata: ProbeMetadata): Promise<WriteResult> {
  return writeBatches(store, [rowBatch(records, metadata)])
}
