/**
 * What the rollups cost per stored measurement at a fleet's shape, fed as
 * now (materialized views on every insert) or folded on a schedule: each
 * minute's rows folded into the minute rollup in one INSERT … SELECT, and
 * the coarser tiers either fed from those folds by their views, or folded
 * each from the one below, or, as a folding collector does since migration
 * 11, the hours folded from the pending minutes every `--hour-every`
 * minutes (collector/rollups/hour-fold.ts) and the days by their views. The
 * evidence for moving the rollups off the insert path (README, "Collector
 * ingest").
 *
 *   node --import tsx test/bench/rollup-cost.ts [--records 1000000] [--probes 500] [--targets 100] [--every 10] [--hour-every 10]
 *
 * Both ways use the schema's own views' SELECTs and the collector's insert
 * call, 50,000 rows at a time, two at a time. CPU is the process's (chDB runs
 * in it), over the inserts, the folds and a pause for the background merges.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openStore, type Store } from '../../collector/store/client.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { foldHours, hourViews } from '../../collector/rollups/hour-fold.ts'
import { pendingInsertSql } from '../../collector/rollups/minute-fold.ts'
import {
  dailyNetworkRollupView,
  dailyRollupView,
  dropView,
  hourlyRollupView,
  measurementsTable,
  networkRollupView,
  qualified,
  rollupView,
  type ViewDefinition,
} from '../../collector/store/schema.ts'
import { fleetInserts, fleetRecords, insertFleet, type FleetShape } from './lib/fleet.ts'
import { machine } from './lib/proc.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    probes: { type: 'string', default: '500' },
    targets: { type: 'string', default: '100' },
    /** Seconds between two samples of one target by one probe. */
    every: { type: 'string', default: '10' },
    /** Minutes between two hour folds, in the collector's way (`hour_fold_every_s`). */
    'hour-every': { type: 'string', default: '10' },
    /** Seconds to let the background merges run after the last write. */
    settle: { type: 'string', default: '8' },
  },
})
const total = Number(values.records)
const probes = Number(values.probes)
const targets = Number(values.targets)
const fleet: FleetShape = { probes, targets, spanMs: (total / (probes * targets)) * Number(values.every) * 1000 }
const minuteMs = 60_000

/** Every rollup view, finest first: the minute view reads the raw table, each other one a finer rollup. */
const views: ViewDefinition[] = [rollupView, hourlyRollupView, networkRollupView, dailyRollupView, dailyNetworkRollupView]

const cpuSeconds = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-rollups-'))
  const store = await openStore(`chdb://${dir}`, { roles: ['ingest'], ingestSessions: 2 })
  try {
    await migrate(store, { retentionDays: 400 })
    return await work(store)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Cost {
  insertSeconds: number
  foldSeconds: number
  settleSeconds: number
  /** Samples the coarsest tier counts: every record, once, whichever way it was fed. */
  samplesInDayTier: number
}

/**
 * How the rollups are fed: by every view on every insert; the minute tier folded each minute and the rest
 * by their views; the minutes folded each minute and the hours every `hour-every` minutes from the pending
 * minutes, as a folding collector does; or every tier folded.
 */
type Feeding = 'views' | 'minute folded' | 'hours folded apart' | 'all folded'

async function measure(inserts: Buffer[], end: number, feeding: Feeding): Promise<Cost> {
  const folded = feeding !== 'views'
  return withStore(async (store) => {
    const run = (query: string) => store.client('ingest').command({ query, clickhouse_settings: { optimize_on_insert: 0 } })
    const context = { database: store.database, retentionDays: 400 }
    const dropped = { views: [], 'minute folded': [rollupView], 'hours folded apart': [rollupView, ...hourViews], 'all folded': views }[feeding]
    for (const view of dropped) await run(dropView(context, view))
    let mark = cpuSeconds()
    await insertFleet(store, inserts, 2)
    const insertSeconds = cpuSeconds() - mark
    mark = cpuSeconds()
    if (folded) {
      const raw = qualified(store, measurementsTable.name)
      const first = end - Math.ceil(fleet.spanMs / minuteMs) * minuteMs
      for (let minute = first; minute < end; minute += minuteMs) {
        const where = `WHERE ts >= fromUnixTimestamp64Milli(${minute}) AND ts < fromUnixTimestamp64Milli(${minute + minuteMs})`
        if (feeding !== 'hours folded apart') {
          await run(`INSERT INTO ${qualified(store, rollupView.to)} ${rollupView.select(`${raw} ${where}`)}`)
          continue
        }
        // The minute fold's way (minute-fold.ts): into the pending minutes, whose view writes the minute rollup.
        await store.client('ingest').command({
          query: pendingInsertSql(context, `${raw} ${where}`),
          query_params: { collector: 'bench', to: minute + minuteMs },
          clickhouse_settings: { optimize_on_insert: 0 },
        })
        const folds = (minute - first) / minuteMs + 1
        if (folds % Number(values['hour-every']) === 0 || minute + minuteMs >= end) await foldHours(store, context, 'bench')
      }
      if (feeding === 'all folded') {
        for (const view of views.slice(1)) await run(`INSERT INTO ${qualified(store, view.to)} ${view.select(qualified(store, view.from))}`)
      }
    }
    const foldSeconds = cpuSeconds() - mark
    mark = cpuSeconds()
    await new Promise((resolve) => setTimeout(resolve, Number(values.settle) * 1000))
    const settleSeconds = cpuSeconds() - mark
    const result = await store.client('ingest').query({ query: `SELECT sum(samples) AS samples FROM ${qualified(store, dailyNetworkRollupView.to)}`, format: 'JSONEachRow' })
    const [row] = await result.json<{ samples: string }>()
    return { insertSeconds, foldSeconds, settleSeconds, samplesInDayTier: Number(row?.samples ?? 0) }
  })
}

const micros = (seconds: number) => `${((seconds / total) * 1e6).toFixed(1)} µs`

async function main(): Promise<void> {
  // Whole minutes, so that the folds' windows line up with the data.
  const end = Math.floor(Date.now() / minuteMs) * minuteMs
  const inserts = fleetInserts(fleet, fleetRecords(fleet, total, 0, end), 50_000)
  console.log(`Rollup cost per stored measurement, ${total.toLocaleString('en')} measurements`)
  console.log(`machine: ${machine()}`)
  console.log(`  fleet: ${probes.toLocaleString('en')} probes × ${targets} targets, each pair every ${values.every} s, over ${(fleet.spanMs / 1000).toFixed(0)} s`)
  for (const feeding of ['views', 'minute folded', 'hours folded apart', 'all folded'] as const) {
    const cost = await measure(inserts, end, feeding)
    const sum = cost.insertSeconds + cost.foldSeconds + cost.settleSeconds
    const counted = cost.samplesInDayTier === total ? 'every record counted once' : `COUNTED ${cost.samplesInDayTier} of ${total}`
    console.log(
      `  ${{ views: 'views on every insert', 'minute folded': 'minute tier folded each minute, the rest by views', 'hours folded apart': `minutes folded each minute, hours every ${values['hour-every']} minutes (the collector's way)`, 'all folded': 'every tier folded' }[feeding]}: ${micros(sum)} (inserts ${micros(cost.insertSeconds)}, folds ${micros(cost.foldSeconds)}, merges after ${micros(cost.settleSeconds)}); ${counted}`,
    )
  }
}

await main()
