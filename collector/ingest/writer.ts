/**
 * Writes rows to ClickHouse exactly once per record id. A probe retries a
 * batch whenever it did not see the acknowledgement, so the same ids arrive
 * again; they are dropped here, before the insert, which also keeps the
 * per-minute rollup (fed by a materialized view on insert) from counting them
 * twice.
 */
import type { Store } from '../store/client.ts'
import { measurementsTable, qualified } from '../store/schema.ts'
import type { MeasurementRow } from './rows.ts'
import { rowColumns, toTsv } from './tsv.ts'

export interface WriteResult {
  /** Ids that were already stored, or repeated within the rows given. */
  duplicates: Set<string>
  written: number
}

function distinct<T>(values: Iterable<T>): T[] {
  return [...new Set(values)]
}

/** Which of these ids are already stored. The key prefix (target, probe, ts) keeps the lookup narrow. */
async function storedIds(store: Store, rows: readonly MeasurementRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set()
  let from = rows[0]!.ts
  let to = from
  for (const row of rows) {
    if (row.ts < from) from = row.ts
    if (row.ts > to) to = row.ts
  }
  const result = await store.client('ingest').query({
    // Not `AS id`: ClickHouse would let the alias shadow the column in WHERE.
    query: `SELECT toString(id) AS stored_id FROM ${qualified(store, measurementsTable.name)}
      WHERE target IN {targets:Array(String)} AND probe IN {probes:Array(String)}
        AND ts BETWEEN parseDateTime64BestEffort({from:String}, 3, 'UTC') AND parseDateTime64BestEffort({to:String}, 3, 'UTC')
        AND id IN {ids:Array(UUID)}`,
    query_params: {
      targets: distinct(rows.map((row) => row.target)),
      probes: distinct(rows.map((row) => row.probe)),
      from,
      to,
      ids: rows.map((row) => row.id),
    },
    format: 'JSONEachRow',
  })
  return new Set((await result.json<{ stored_id: string }>()).map((row) => row.stored_id))
}

export async function writeRows(store: Store, rows: readonly MeasurementRow[]): Promise<WriteResult> {
  const duplicates = await storedIds(store, rows)
  const fresh: MeasurementRow[] = []
  const seen = new Set<string>()
  for (const row of rows) {
    if (duplicates.has(row.id) || seen.has(row.id)) {
      duplicates.add(row.id)
      continue
    }
    seen.add(row.id)
    fresh.push(row)
  }
  if (fresh.length > 0) {
    await store.client('ingest').command({
      query: `INSERT INTO ${qualified(store, measurementsTable.name)} (${rowColumns.join(', ')}) FORMAT TabSeparated\n${toTsv(fresh)}`,
    })
  }
  return { duplicates, written: fresh.length }
}
