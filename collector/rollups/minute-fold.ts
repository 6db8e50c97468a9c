/**
 * The minute rollup folded on a schedule instead of by a materialized view on
 * every insert (`rollups.minute: folded`).
 *
 * Why: at a fleet's shape an insert holds one round of many probes, so its
 * rows hardly fold, and the view writes a rollup row, with two t-digests, for
 * nearly every measurement; the coarser tiers' views then merge as many. A
 * minute of rows folded at once is six rows into one at a 10 s interval
 * (test/bench/rollup-cost.ts: 14.7 against 41.0 µs of engine CPU a row).
 *
 * Exactly once, which is the whole difficulty:
 * - Each collector folds only the rows it wrote (the raw `collector`
 *   column), by windows of `received_at`, which it stamped itself. A window
 *   ends no later than the oldest row its queue still holds, so no insert in
 *   flight can land in a window already folded, and collectors over one store
 *   need no coordination.
 * - The ledger (`rollup_folds`) records a window as started before folding
 *   it and done after. A collector that died in between folds the same window
 *   again with the same deduplication token, which the rollup tables (and,
 *   with `deduplicate_blocks_in_dependent_materialized_views`, the tiers their
 *   views feed) recognise: counted once either way.
 * - A late row from a probe's spool is received now, whatever its `ts`, so
 *   it is folded with the window it arrived in, into the minute it measured.
 * What it costs: the minute tier is behind the raw table by up to a fold
 * interval (`catchment_rollup_folded_until_seconds` says how far it reaches),
 * the hour and day tiers by up to an hour fold interval more (hour-fold.ts),
 * and the live minutes (schema.ts) aggregate what is not folded yet at every
 * query that reads them.
 */
import type { Logger } from '../logger.ts'
import type { CollectorMetrics } from '../metrics.ts'
import type { Store } from '../store/client.ts'
import { createView, dropView, measurementsTable, minuteRollupColumns, pendingMinutesTable, qualified, rollupFoldsTable, rollupView, type SchemaContext } from '../store/schema.ts'
import { foldInsertSettings } from './fold-insert.ts'
import { collectorsWithPendingHours, dropHourViews, foldHours, hourFoldInDoubt, restoreHourViews, type HourFoldResult } from './hour-fold.ts'
import { existingViews } from './views.ts'

/**
 * The time stamped on received rows. It never goes back, not even past a
 * window a previous run folded: a clock stepped back would otherwise stamp
 * rows into a window that is already done, and they would never be folded.
 */
export class ReceiptClock {
  private floor = 0

  now(): number {
    this.floor = Math.max(Date.now(), this.floor)
    return this.floor
  }

  /** Never stamp before `ms`. */
  notBefore(ms: number): void {
    this.floor = Math.max(this.floor, ms)
  }
}

/** One window of one collector's rows, as the ledger holds it. */
export interface FoldWindow {
  collector: string
  /** Milliseconds, `received_at >= from AND received_at < to`. */
  from: number
  to: number
}

export interface FoldResult extends FoldWindow {
  /** Raw rows the fold read. */
  rawRows: number
}

interface LedgerEntry extends FoldWindow {
  state: 'started' | 'done'
}

/** The latest entry of a collector's ledger; on a tie a window's `done` beats its `started`. */
async function lastEntry(store: Store, context: SchemaContext, collector: string): Promise<LedgerEntry | undefined> {
  const result = await store.client('registry').query({
    query: `SELECT state, toString(toUnixTimestamp64Milli(folded_from)) AS from_ms, toString(toUnixTimestamp64Milli(folded_to)) AS to_ms
      FROM ${qualified(context, rollupFoldsTable.name)} WHERE collector = {collector:String}
      ORDER BY folded_to DESC, state DESC LIMIT 1`,
    query_params: { collector },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ state: 'started' | 'done'; from_ms: string; to_ms: string }>()
  return row && { collector, state: row.state, from: Number(row.from_ms), to: Number(row.to_ms) }
}

async function record(store: Store, context: SchemaContext, window: FoldWindow, state: LedgerEntry['state'], rawRows = 0): Promise<void> {
  await store.client('registry').insert({
    table: qualified(context, rollupFoldsTable.name),
    values: [{ collector: window.collector, folded_from: new Date(window.from).toISOString(), folded_to: new Date(window.to).toISOString(), state, raw_rows: rawRows }],
    format: 'JSONEachRow',
  })
}

/** A window's rows in the raw table: its collector's, received within it. */
const windowRows = (context: SchemaContext) => `${qualified(context, measurementsTable.name)}
WHERE collector = {collector:String}
  AND received_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND received_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`

const windowParams = (window: FoldWindow) => ({ collector: window.collector, from: window.from, to: window.to })

/**
 * How many raw rows a window holds. Counted apart from the fold, since the
 * embedded engine reports no summary for an INSERT … SELECT; the window is
 * closed, so the count cannot change under the fold.
 */
async function countWindow(store: Store, context: SchemaContext, window: FoldWindow): Promise<number> {
  const result = await store.client('fold').query({ query: `SELECT count() AS n FROM ${windowRows(context)}`, query_params: windowParams(window), format: 'JSONEachRow' })
  const [row] = await result.json<{ n: string }>()
  return Number(row?.n ?? 0)
}

/**
 * `rows` (a table and its WHERE) folded by the minute view's SELECT into the
 * pending minutes, as the fold ending at `{to:Int64}` of `{collector:String}`.
 */
export const pendingInsertSql = (context: SchemaContext, rows: string) =>
  `INSERT INTO ${qualified(context, pendingMinutesTable.name)} (${minuteRollupColumns.join(', ')}, collector, folded_to)
SELECT *, {collector:String}, fromUnixTimestamp64Milli({to:Int64}, 'UTC') FROM (${rollupView.select(rows)})`

/**
 * Folds one window into the minute rollup: the minute view's own SELECT over
 * the window's rows, so a folded rollup holds exactly what the view would
 * have written. It goes through the pending minutes (schema.ts,
 * `pendingMinutesTable`), whose view writes the minute rollup, and which the
 * hour fold later folds into the hours.
 */
async function foldWindow(store: Store, context: SchemaContext, window: FoldWindow): Promise<void> {
  await store.client('fold').command({
    query: pendingInsertSql(context, windowRows(context)),
    query_params: windowParams(window),
    clickhouse_settings: foldInsertSettings(`fold:${window.collector}:${window.from}:${window.to}`),
  })
}

/**
 * Folds a window as the ledger requires: started, folded, done. An empty
 * window is not recorded at all (the next one starts where it did), so an
 * idle collector adds nothing to the ledger.
 */
async function foldRecorded(store: Store, context: SchemaContext, window: FoldWindow, alreadyStarted = false): Promise<number> {
  const rawRows = await countWindow(store, context, window)
  if (rawRows === 0 && !alreadyStarted) return 0
  if (!alreadyStarted) await record(store, context, window, 'started')
  await foldWindow(store, context, window)
  await record(store, context, window, 'done', rawRows)
  return rawRows
}

async function minuteViewExists(store: Store, context: SchemaContext): Promise<boolean> {
  return (await existingViews(store, context, [rollupView])).size > 0
}

export interface MinuteFoldOptions {
  store: Store
  context: SchemaContext
  /** This collector's name, which its rows carry. */
  collector: string
  clock: ReceiptClock
  /** When the oldest row this collector holds uncommitted was received (the ingest queue's `oldestReceipt`). */
  oldestUnsettled(): number | undefined
  /** How often the minutes this collector folded are folded on into the hour rollups (`rollups.hour_fold_every_s`). */
  hourFoldEveryMs: number
  metrics: CollectorMetrics
  logger: Logger
}

/** What one call folded. */
export interface FoldOutcome {
  /** The window of raw rows folded into the minute rollup, or null when none was due. */
  minutes: FoldResult | null
  /** What was folded on into the hour rollups, or null when that was not due or nothing was pending. */
  hours: HourFoldResult | null
}

/** `when_due`: the hours only once `hourFoldEveryMs` has passed since they were last folded; `now`: the hours too, whatever is pending. */
export type HourFolding = 'when_due' | 'now'

/** This collector's scheduled minute fold, and the hour fold that follows it every few minutes. */
export class MinuteFold {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<unknown> = Promise.resolve()
  /** When the hours were last folded; at start, one interval from now unless a crash left an hour fold started. */
  private hoursFoldedAt = Date.now()

  constructor(private readonly options: MinuteFoldOptions) {}

  /**
   * Before the collector takes traffic: stops the minute view if it runs
   * (rows received until now were counted by it, so folding starts now), or
   * takes up the ledger where this collector's last run left it; and stops
   * the hour views, whose work the hour fold does.
   */
  async prepare(): Promise<void> {
    const { store, context, collector, logger } = this.options
    await this.takeOverMinutes()
    if (await dropHourViews(store, context)) logger.info({ collector }, 'hour rollups: views dropped, folded from the minutes on a schedule from now on')
    if (await hourFoldInDoubt(store, context, collector)) this.hoursFoldedAt = Number.NEGATIVE_INFINITY
  }

  private async takeOverMinutes(): Promise<void> {
    const { store, context, collector, clock } = this.options
    if (await minuteViewExists(store, context)) {
      await store.client('registry').command({ query: dropView(context, rollupView) })
      const now = clock.now()
      await record(store, context, { collector, from: now, to: now }, 'done')
      this.options.logger.info({ collector }, 'minute rollup: view dropped, folded on a schedule from now on')
      return
    }
    const last = await lastEntry(store, context, collector)
    if (last) clock.notBefore(last.to)
    else {
      const now = clock.now()
      await record(store, context, { collector, from: now, to: now }, 'done')
    }
  }

  /**
   * Folds what is due: a window a crash left started, then everything
   * received since the last window up to the oldest row still uncommitted;
   * then, when due (or `now`), the minutes folded since the last hour fold
   * into the hour rollups.
   */
  foldDue(hours: HourFolding = 'when_due'): Promise<FoldOutcome> {
    const next = this.running.then(() => this.foldOnce(hours))
    this.running = next.catch(() => undefined)
    return next
  }

  private async foldOnce(hours: HourFolding): Promise<FoldOutcome> {
    const minutes = await this.foldMinutes()
    if (hours === 'when_due' && Date.now() - this.hoursFoldedAt < this.options.hourFoldEveryMs) return { minutes, hours: null }
    return { minutes, hours: await this.foldHours() }
  }

  private async foldMinutes(): Promise<FoldResult | null> {
    const { store, context, collector, clock, metrics } = this.options
    const started = process.hrtime.bigint()
    const last = await lastEntry(store, context, collector)
    if (last?.state === 'started') await foldRecorded(store, context, last, true)
    const from = last?.to ?? clock.now()
    const now = clock.now()
    const to = Math.min(now, this.options.oldestUnsettled() ?? now)
    if (to <= from) {
      if (last) metrics.foldedUntil.set(last.to / 1000)
      return null
    }
    const window = { collector, from, to }
    const rawRows = await foldRecorded(store, context, window)
    metrics.foldSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
    metrics.foldedRows.inc(rawRows)
    metrics.foldedUntil.set(to / 1000)
    return { ...window, rawRows }
  }

  private async foldHours(): Promise<HourFoldResult | null> {
    const { store, context, collector, metrics } = this.options
    const started = process.hrtime.bigint()
    const folded = await foldHours(store, context, collector)
    this.hoursFoldedAt = Date.now()
    if (folded) {
      metrics.hourFoldSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
      metrics.hourFoldedRows.inc(folded.minuteRows)
      metrics.hoursFoldedUntil.set(folded.foldedTo / 1000)
    }
    return folded
  }

  /** Folds every `everyMs` (the hours when due); a failed fold is logged and its window is folded by the next. */
  start(everyMs: number): void {
    this.timer = setInterval(() => {
      this.foldDue().catch((error: unknown) => {
        this.options.metrics.foldFailures.inc()
        this.options.logger.error({ err: error }, 'fold failed; the next one takes its window')
      })
    }, everyMs)
    this.timer.unref()
  }

  /** After the queue drained: folds everything received, into the hours too, so a clean stop leaves nothing for the next run. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.foldDue('now')
  }
}

/** The latest receipt among a collector's rows received since `since` (by its clock, which may be ahead of this one). */
async function latestReceipt(store: Store, context: SchemaContext, collector: string, since: number): Promise<number | undefined> {
  const result = await store.client('registry').query({
    query: `SELECT count() AS n, toString(toUnixTimestamp64Milli(max(received_at))) AS latest FROM ${qualified(context, measurementsTable.name)}
      WHERE collector = {collector:String} AND received_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')`,
    query_params: { collector, since },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ n: string; latest: string }>()
  return Number(row?.n) > 0 ? Number(row?.latest) : undefined
}

/**
 * `rollups.minute: views` on a store a folding collector left: folds every
 * collector's rows its ledger has not reached (crashed collectors' too), and
 * every collector's pending minutes into the hours, then makes the views
 * again. Run before taking traffic, with no folding collector on the store.
 */
export async function restoreMinuteView(store: Store, context: SchemaContext, logger: Logger): Promise<void> {
  if (await minuteViewExists(store, context)) return
  // A folding collector from before migration 11 left the hour views: they would count what is folded now twice.
  await dropHourViews(store, context)
  const result = await store.client('registry').query({
    query: `SELECT DISTINCT collector FROM ${qualified(context, rollupFoldsTable.name)}`,
    format: 'JSONEachRow',
  })
  for (const { collector } of await result.json<{ collector: string }>()) {
    const last = await lastEntry(store, context, collector)
    if (!last) continue
    if (last.state === 'started') await foldRecorded(store, context, last, true)
    const latest = await latestReceipt(store, context, collector, last.to)
    if (latest !== undefined) await foldRecorded(store, context, { collector, from: last.to, to: latest + 1 })
  }
  for (const collector of await collectorsWithPendingHours(store, context)) await foldHours(store, context, collector)
  // The hour views first: once the minute view exists, what it writes must reach the hours.
  await restoreHourViews(store, context)
  await store.client('registry').command({ query: createView(context, rollupView) })
  logger.info('minute and hour rollups: every collector’s rows folded, fed by their views again')
}
