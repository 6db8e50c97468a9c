/**
 * The hour rollups (and the day rollups their views feed) folded from the
 * minutes a folding collector wrote, every `rollups.hour_fold_every_s`,
 * instead of by views on every minute fold.
 *
 * Why: at a fleet's shape a minute fold holds one or two minutes of each
 * probe and target, so the hour views wrote an hour row, and the day views a
 * day row, per probe × target × PoP for every fold: about as many rows as
 * the minute rollup, each merged again in the background. Folded every ten
 * minutes from the pending minutes, they write a tenth as many
 * (test/bench/ingest.ts; README, "Collector ingest").
 *
 * Exactly once, as the minute fold:
 * - A minute fold writes its rows to `measurements_1m_pending`, whose view
 *   copies them into the minute rollup; a partition holds one collector's
 *   fold. Each collector folds only its own.
 * - The ledger (`rollup_hour_folds`) records a fold as started, with the
 *   newest minute fold it takes, before folding, and done after the pending
 *   rows are dropped. A fold a crash cut short is run again over the same
 *   rows with the same deduplication tokens, which the hour rollups (and,
 *   through their views, the day rollups) recognise.
 * What it costs: a range of over two days is read from the hour and day
 * rollups alone, so it reaches up to the last hour fold, not the last
 * minute fold. A shorter range reads the hours not settled from the minutes
 * (`measurements_1h_settled` waits for the pending minutes).
 */
import type { Store } from '../store/client.ts'
import {
  createView,
  dropPartitions,
  dropView,
  hourFoldsTable,
  hourlyRollupView,
  networkRollupView,
  pendingMinutesTable,
  qualified,
  type SchemaContext,
  sqlString,
  type ViewDefinition,
} from '../store/schema.ts'
import { foldInsertSettings } from './fold-insert.ts'
import { existingViews } from './views.ts'

/** The views that feed the hour rollups from the minute rollup on every insert: a folding store folds them instead. */
export const hourViews: readonly ViewDefinition[] = [hourlyRollupView, networkRollupView]

export interface HourFoldResult {
  collector: string
  /** Milliseconds: the end of the newest minute fold whose rows were folded. */
  foldedTo: number
  /** Pending minute rows the fold read. */
  minuteRows: number
}

interface LedgerEntry {
  state: 'started' | 'done'
  foldedTo: number
}

async function lastEntry(store: Store, context: SchemaContext, collector: string): Promise<LedgerEntry | undefined> {
  const result = await store.client('registry').query({
    query: `SELECT state, toString(toUnixTimestamp64Milli(folded_to)) AS folded_to FROM ${qualified(context, hourFoldsTable.name)}
      WHERE collector = {collector:String} ORDER BY folded_to DESC, state DESC LIMIT 1`,
    query_params: { collector },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ state: 'started' | 'done'; folded_to: string }>()
  return row && { state: row.state, foldedTo: Number(row.folded_to) }
}

async function record(store: Store, context: SchemaContext, collector: string, foldedTo: number, state: LedgerEntry['state'], minuteRows = 0): Promise<void> {
  await store.client('registry').insert({
    table: qualified(context, hourFoldsTable.name),
    values: [{ collector, folded_to: new Date(foldedTo).toISOString(), state, minute_rows: minuteRows }],
    format: 'JSONEachRow',
  })
}

/** A collector's pending minute rows up to a minute fold. */
const pendingRows = (context: SchemaContext) =>
  `${qualified(context, pendingMinutesTable.name)} WHERE collector = {collector:String} AND folded_to <= fromUnixTimestamp64Milli({upTo:Int64}, 'UTC')`

/** Counts and the newest minute fold among a collector's pending rows. */
async function pendingSummary(store: Store, context: SchemaContext, collector: string): Promise<{ rows: number; newest: number }> {
  const result = await store.client('fold').query({
    query: `SELECT count() AS n, toString(toUnixTimestamp64Milli(max(folded_to))) AS newest FROM ${qualified(context, pendingMinutesTable.name)} WHERE collector = {collector:String}`,
    query_params: { collector },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ n: string; newest: string }>()
  return { rows: Number(row?.n ?? 0), newest: Number(row?.newest ?? 0) }
}

/**
 * Folds a collector's pending minutes up to `upTo` into both hour rollups,
 * each by its view's own SELECT, then drops them. Every step can be run
 * again: the inserts carry tokens named after the fold, and a partition
 * already dropped is not there to drop.
 */
async function foldUpTo(store: Store, context: SchemaContext, collector: string, upTo: number): Promise<void> {
  const params = { collector, upTo }
  // Side by side, each on its own session: the network rollup's digests take twice the time of the sums per probe.
  // Both are waited for, so a fold that failed has stopped writing before it is run again.
  const written = await Promise.allSettled(
    hourViews.map((view, session) =>
      store.client('fold', session).command({
        query: `INSERT INTO ${qualified(context, view.to)} ${view.select(pendingRows(context))}`,
        query_params: params,
        clickhouse_settings: foldInsertSettings(`hours:${view.to}:${collector}:${upTo}`),
      }),
    ),
  )
  for (const outcome of written) if (outcome.status === 'rejected') throw outcome.reason
  // A partition per minute fold, named by its value: the same on every shard of a cluster.
  const result = await store.client('fold').query({
    query: `SELECT DISTINCT toString(toUnixTimestamp64Milli(folded_to)) AS fold_end FROM ${pendingRows(context)}`,
    query_params: params,
    format: 'JSONEachRow',
  })
  const folds = (await result.json<{ fold_end: string }>()).map((row) => Number(row.fold_end))
  if (folds.length === 0) return
  const partition = (foldedTo: number) => `tuple(${sqlString(collector)}, fromUnixTimestamp64Milli(${foldedTo}, 'UTC'))`
  await store.client('fold').command({ query: dropPartitions(context, pendingMinutesTable, folds.map(partition)) })
}

/**
 * Folds what a collector has pending into the hour rollups: first a fold a
 * crash left started, then every minute fold since. Returns what was
 * folded, or null when nothing was pending.
 */
export async function foldHours(store: Store, context: SchemaContext, collector: string): Promise<HourFoldResult | null> {
  const last = await lastEntry(store, context, collector)
  if (last?.state === 'started') {
    await foldUpTo(store, context, collector, last.foldedTo)
    await record(store, context, collector, last.foldedTo, 'done')
  }
  const pending = await pendingSummary(store, context, collector)
  if (pending.rows === 0) return null
  await record(store, context, collector, pending.newest, 'started')
  await foldUpTo(store, context, collector, pending.newest)
  await record(store, context, collector, pending.newest, 'done', pending.rows)
  return { collector, foldedTo: pending.newest, minuteRows: pending.rows }
}

/** Whether a crash left a collector's hour fold started. */
export async function hourFoldInDoubt(store: Store, context: SchemaContext, collector: string): Promise<boolean> {
  return (await lastEntry(store, context, collector))?.state === 'started'
}

/** Every collector with minutes pending or an hour fold started: what a store going back to views must fold first. */
export async function collectorsWithPendingHours(store: Store, context: SchemaContext): Promise<string[]> {
  const result = await store.client('registry').query({
    query: `SELECT DISTINCT toString(collector) AS collector FROM ${qualified(context, pendingMinutesTable.name)}
      UNION DISTINCT SELECT toString(collector) AS collector FROM ${qualified(context, hourFoldsTable.name)}`,
    format: 'JSONEachRow',
  })
  return (await result.json<{ collector: string }>()).map(({ collector }) => collector)
}

/** A folding store: the hour rollups are no longer fed by views on the minute rollup. */
export async function dropHourViews(store: Store, context: SchemaContext): Promise<boolean> {
  const existing = await existingViews(store, context, hourViews)
  for (const view of hourViews) if (existing.has(view.name)) await store.client('registry').command({ query: dropView(context, view) })
  return existing.size > 0
}

/** Back to views: the hour rollups fed by views on the minute rollup again. */
export async function restoreHourViews(store: Store, context: SchemaContext): Promise<void> {
  for (const view of hourViews) await store.client('registry').command({ query: createView(context, view) })
}
