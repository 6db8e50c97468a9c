/**
 * How many times the raw table's background merges write each row again, and
 * what that costs, as a partition grows: the part of ingest that a short run
 * hardly sees. Each merge level rewrites every row once more, so the merges'
 * cost a row grows with the partition, and a bench of a minute's inserts
 * measures only the first levels.
 *
 *   node --import tsx test/bench/raw-merges.ts [--rows 24000000] [--probes 500] [--targets 100]
 *     [--try 'max_bytes_to_merge_at_max_space_in_pool = 33554432']… [--skip-defaults]
 *
 * Fleet-shaped rows (lib/fleet.ts), inserted as the collector inserts them
 * (50,000-row TabSeparated inserts, two at a time) into a fresh store with
 * every view of the schema but the minute rollup's (as a folding collector
 * runs it), so that every merge is the raw table's. Then it waits until no
 * merge has run for five seconds, and times the stored-id lookup of a resent batch, the
 * raw table's reader on the ingest path. With the schema's merge settings
 * (`rawMergeSettings`), then with ClickHouse's defaults restored on the table
 * (unless `--skip-defaults`). Each `--try` adds a run with the schema's settings and that one
 * beside them, so that a merge setting is weighed against the schema's in
 * the same hour.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openStore, type Store } from '../../collector/store/client.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { dropView, measurementsTable, qualified, rawMergeSettings, rollupView } from '../../collector/store/schema.ts'
import { rowBatch } from '../../collector/ingest/rows.ts'
import { writeBatches } from '../../collector/ingest/writer.ts'
import type { Measurement } from '../../probe/record.ts'
import { storeRows } from '../helpers/collector.ts'
import { fleetChunks, fleetInserts, fleetMetadata, insertFleet, type FleetShape } from './lib/fleet.ts'
import { machine, threadCpuBetween, threadCpuSeconds } from './lib/proc.ts'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '24000000' },
    probes: { type: 'string', default: '500' },
    targets: { type: 'string', default: '100' },
    /** A merge setting to weigh against the schema's, e.g. a cap on a merged part's size: a run each. */
    try: { type: 'string', multiple: true, default: [] },
    'skip-defaults': { type: 'boolean', default: false },
  },
})
const rows = Number(values.rows)
const rowsPerInsert = 50_000
/** Records are built a million at a time, so that a run of any size fits in memory. */
const recordsPerChunk = 1_000_000
/** Each pair every 10 s, as the ingest bench's live fleet: the span grows with the rows. */
const fleet: FleetShape = { probes: Number(values.probes), targets: Number(values.targets), spanMs: (rows / (Number(values.probes) * Number(values.targets))) * 10_000 }

/** Mid-month of the month before, so that every row falls in one partition (`toYYYYMM(ts)`), well inside the retention. */
const today = new Date()
const fleetStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 15)

interface MergeFigures {
  insertSeconds: number
  /** Rows the merges wrote, per row inserted: while inserting, and in all. */
  passesWhileInserting: number
  passes: number
  /** The merge threads' CPU per row inserted, in µs. */
  mergeMicros: number
  parts: number
  levels: number[]
  /** The active parts' bytes on disk: all of them, and the largest. */
  bytes: number
  largestPartBytes: number
  /** Median time to look up a resent batch of 100 stored records, the raw table's reader on the ingest path. */
  lookupMs: number
}

const mergedRows = async (store: Store) =>
  Number((await storeRows<{ value: number }>(store, `SELECT value FROM system.events WHERE event = 'MergedRows'`))[0]?.value ?? 0)

async function mergesSettled(store: Store): Promise<void> {
  for (let quiet = 0; quiet < 5; ) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [running] = await storeRows<{ merges: number }>(store, 'SELECT count() AS merges FROM system.merges')
    quiet = Number(running?.merges) === 0 ? quiet + 1 : 0
  }
}

/** The schema's merge settings; ClickHouse's defaults; or the schema's with one more beside them. */
type MergeSettings = { kind: 'schema' } | { kind: 'defaults' } | { kind: 'try'; setting: string }

const settingsLabel = (settings: MergeSettings) =>
  settings.kind === 'schema' ? `schema (${rawMergeSettings})` : settings.kind === 'defaults' ? "ClickHouse's defaults" : `schema and ${settings.setting}`

async function measure(settings: MergeSettings): Promise<MergeFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-merges-'))
  const store = await openStore(`chdb://${dir}`, { roles: ['ingest', 'query', 'registry'], ingestSessions: 2 })
  try {
    await migrate(store, { retentionDays: 400 })
    const context = { database: store.database, retentionDays: 400 }
    const registry = store.client('registry')
    await registry.command({ query: dropView(context, rollupView) })
    const raw = qualified(context, measurementsTable.name)
    if (settings.kind === 'defaults') {
      const names = rawMergeSettings.split(',').map((setting) => setting.split('=')[0]?.trim())
      await registry.command({ query: `ALTER TABLE ${raw} RESET SETTING ${names.join(', ')}` })
    }
    if (settings.kind === 'try') await registry.command({ query: `ALTER TABLE ${raw} MODIFY SETTING ${settings.setting}` })
    const mergedBefore = await mergedRows(store)
    const threadsBefore = threadCpuSeconds(process.pid)
    const began = performance.now()
    let resent: Measurement[] = []
    for (const records of fleetChunks(fleet, rows, recordsPerChunk, fleetStart + fleet.spanMs)) {
      await insertFleet(store, fleetInserts(fleet, records, rowsPerInsert), 2)
      resent = records.filter((record) => record.probe === 'bench-0').slice(-100)
    }
    const insertSeconds = (performance.now() - began) / 1000
    const mergedWhileInserting = (await mergedRows(store)) - mergedBefore
    await mergesSettled(store)
    const merges = threadCpuBetween(threadsBefore, threadCpuSeconds(process.pid), (thread) => thread.name === 'MergeMutate')
    const parts = await storeRows<{ level: number; bytes: number }>(
      store,
      `SELECT level, bytes_on_disk AS bytes FROM system.parts WHERE active AND database = '${store.database}' AND table = '${measurementsTable.name}' ORDER BY level DESC`,
    )
    const partBytes = parts.map((part) => part.bytes)
    const lookups: number[] = []
    for (let i = 0; i < 21; i++) {
      const began = performance.now()
      const result = await writeBatches(store, [rowBatch(resent, fleetMetadata(fleet, 'bench-0'), { firstAttempt: false })])
      lookups.push(performance.now() - began)
      if (result.written !== 0) throw new Error(`a resent batch wrote ${result.written} rows again`)
    }
    return {
      lookupMs: lookups.sort((a, b) => a - b)[10] as number,
      insertSeconds,
      passesWhileInserting: mergedWhileInserting / rows,
      passes: ((await mergedRows(store)) - mergedBefore) / rows,
      mergeMicros: (merges / rows) * 1e6,
      parts: parts.length,
      levels: parts.map((part) => part.level),
      bytes: partBytes.reduce((sum, bytes) => sum + bytes, 0),
      largestPartBytes: Math.max(0, ...partBytes),
    }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(`Raw table merges, ${rows.toLocaleString('en')} rows into one partition (${fleet.probes} probes × ${fleet.targets} targets, ${rowsPerInsert.toLocaleString('en')}-row inserts, 2 at a time)`)
console.log(`machine: ${machine()}`)
const runs: MergeSettings[] = [
  { kind: 'schema' },
  ...(values['skip-defaults'] ? [] : [{ kind: 'defaults' } as const]),
  ...(values.try ?? []).map((setting) => ({ kind: 'try', setting }) as const),
]
const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`
for (const settings of runs) {
  console.error(`${settingsLabel(settings)}…`)
  const figures = await measure(settings)
  console.log(
    `  ${settingsLabel(settings)}: each row merged ${figures.passes.toFixed(2)} times (${figures.passesWhileInserting.toFixed(2)} while inserting), ` +
      `merges ${figures.mergeMicros.toFixed(2)} µs of CPU a row; ${figures.parts} parts at the end (levels ${figures.levels.join(', ')}; ` +
      `${megabytes(figures.bytes)} on disk, the largest part ${megabytes(figures.largestPartBytes)}), ` +
      `a resent batch's stored-id lookup ${figures.lookupMs.toFixed(1)} ms (median of 21); inserting took ${figures.insertSeconds.toFixed(0)} s`,
  )
}
