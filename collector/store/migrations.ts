/**
 * Versioned migrations. Each runs once, in order, and is recorded in
 * `schema_migrations`; `collector serve` applies what is pending at start, so
 * a new collector on an old store brings it up to date before taking traffic.
 * Statements are idempotent (IF NOT EXISTS), so a migration cut short by a
 * crash simply runs again.
 */
import type { Store } from './client.ts'

/**
 * Fills a new rollup from an older one. Merging a big store's states in one
 * INSERT … SELECT would hold every group's t-digests in memory at once, so it
 * runs a target and a day at a time; and only into an empty table, so a
 * migration cut short and run again cannot count anything twice.
 */
export interface Backfill {
  into: string
  from: string
  /** The source's time column. */
  time: string
  /** The SELECT over `from` filtered by the given WHERE clause. */
  select(where: string): string
}

export type MigrationStep = string | Backfill

import {
  addColumns,
  addIndex,
  createDatabase,
  createPlainView,
  createTable,
  createView,
  dailyNetworkRollupTable,
  dailyNetworkRollupView,
  dailyRollupTable,
  dailyRollupView,
  digestColumns,
  dropColumns,
  dropView,
  heartbeatsTable,
  hourFoldsTable,
  hourlyRollupTable,
  hourlyRollupView,
  lastMinuteColumns,
  liveMinutesView,
  measurementsInputTable,
  measurementsInputView,
  measurementsTable,
  migrationsTable,
  modifySettings,
  popLocationsTable,
  probesTable,
  networkRollupTable,
  networkRollupView,
  pendingMinutesTable,
  pendingMinutesView,
  qualified,
  rawMergeSettings,
  rollupFoldsTable,
  rollupSettings,
  rollupTable,
  rollupView,
  settledHoursView,
  type SchemaContext,
  unfoldedView,
  type TableDefinition,
  type ViewDefinition,
} from './schema.ts'

/** A view's table filled with what the view would have written from the rows already in its source. */
function backfillFor(context: SchemaContext, view: ViewDefinition, time: string): Backfill {
  const from = qualified(context, view.from)
  return { into: qualified(context, view.to), from, time, select: (where) => view.select(`${from} ${where}`) }
}

/**
 * A rollup fed by a cascaded view: its table, then what the view would have written from the
 * rows its source already holds (`sourceTime` is the source's time column), then the view.
 * Migrations run before the collector takes traffic, so no row reaches the source between the
 * backfill and the view.
 */
function cascadedRollup(context: SchemaContext, table: TableDefinition, view: ViewDefinition, sourceTime: string): MigrationStep[] {
  return [...createTable(context, table), backfillFor(context, view, sourceTime), createView(context, view)]
}

export interface Migration {
  version: number
  name: string
  statements(context: SchemaContext): MigrationStep[]
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'measurements, per-minute rollup, probe registry',
    statements: (context) => [
      ...createTable(context, measurementsTable),
      ...createTable(context, rollupTable),
      createView(context, rollupView),
      ...createTable(context, probesTable),
    ],
  },
  {
    version: 2,
    name: 'agent heartbeats',
    statements: (context) => createTable(context, heartbeatsTable),
  },
  {
    version: 3,
    name: 'PoP locations for distance analysis',
    statements: (context) => createTable(context, popLocationsTable),
  },
  {
    version: 4,
    name: 'connect histogram and errors by code in the rollups; hour rollup',
    statements: (context) => [
      // A store from before this migration has the minute rollup without these columns; a new one has them already.
      ...addColumns(context, rollupTable, rollupTable.columns.filter((column) => /^(connect_hist|errors_by_code|period) /.test(column))),
      dropView(context, rollupView),
      createView(context, rollupView),
      // Hours before this migration come from the minute rollup.
      ...cascadedRollup(context, hourlyRollupTable, hourlyRollupView, 'minute'),
    ],
  },
  {
    version: 5,
    name: 'hour rollup per network, for fleet-wide dashboard panels over long ranges',
    // Fed from the minutes since migration 7 (a store made now builds it that way from the start).
    statements: (context) => cascadedRollup(context, networkRollupTable, networkRollupView, 'minute'),
  },
  {
    version: 6,
    name: 'day rollups per probe and per network, for whole-range summaries over a week or more',
    statements: (context) => [
      ...cascadedRollup(context, dailyRollupTable, dailyRollupView, 'hour'),
      ...cascadedRollup(context, dailyNetworkRollupTable, dailyNetworkRollupView, 'hour'),
    ],
  },
  {
    version: 7,
    name: 'quantile digests only where they are read: the network hour rollup fed from the minutes, none per probe in hours and days',
    statements: (context) => {
      const remade = [networkRollupView, hourlyRollupView, dailyRollupView]
      return [
        // Views first: a view cannot outlive a column it reads. No traffic runs during migrations, so no row falls between.
        ...remade.map((view) => dropView(context, view)),
        ...[hourlyRollupTable, dailyRollupTable].flatMap((table) => dropColumns(context, table, digestColumns)),
        // The views as made now also write each hour's last minute, which came with migration 10.
        ...[hourlyRollupTable, networkRollupTable].flatMap((table) => addColumns(context, table, lastMinuteColumns)),
        ...remade.map((view) => createView(context, view)),
      ]
    },
  },
  {
    version: 8,
    name: 'the minute rollup may be folded on a schedule: raw rows name their collector, a fold ledger, folds deduplicated when run again, the minutes with what is not folded yet',
    statements: (context) => {
      const rollups = [rollupTable, hourlyRollupTable, networkRollupTable, dailyRollupTable, dailyNetworkRollupTable]
      return [
        ...addColumns(context, measurementsTable, measurementsTable.columns.filter((column) => column.startsWith('collector '))),
        ...(measurementsTable.indexes ?? []).flatMap((index) => addIndex(context, measurementsTable, index)),
        ...rollups.map((table) => modifySettings(context, table, rollupSettings)),
        ...createTable(context, rollupFoldsTable),
        createPlainView(context, liveMinutesView),
      ]
    },
  },
  {
    version: 9,
    name: 'measurements inserted through a Null table of plain strings, converted to the raw table a block at a time',
    statements: (context) => [...createTable(context, measurementsInputTable), createView(context, measurementsInputView)],
  },
  {
    version: 10,
    name: 'short ranges read their whole hours from the hour rollups and their unfolded rows ungrouped by minute: each hour row knows its last minute, which hours are settled, the unfolded rows',
    statements: (context) => {
      const remade = [hourlyRollupView, networkRollupView]
      return [
        // No traffic runs during migrations, so no minute falls between the views' going and coming back.
        ...remade.map((view) => dropView(context, view)),
        ...[hourlyRollupTable, networkRollupTable].flatMap((table) => addColumns(context, table, lastMinuteColumns)),
        ...remade.map((view) => createView(context, view)),
        // The settled hours' view is made by migration 11: it reads the pending minutes, a table made there.
        createPlainView(context, unfoldedView),
      ]
    },
  },
  {
    version: 11,
    name: 'a folding collector folds its hour rollups from its minutes every few minutes, not by views on every minute fold: the pending minutes, their view into the minute rollup, the hour fold ledger, settled hours that wait for them',
    statements: (context) => [
      ...createTable(context, pendingMinutesTable),
      createView(context, pendingMinutesView),
      ...createTable(context, hourFoldsTable),
      createPlainView(context, settledHoursView),
    ],
  },
  {
    version: 12,
    name: 'the raw table merges about twenty parts at once, not five, so each row is written again fewer times as its partition grows',
    statements: (context) => [modifySettings(context, measurementsTable, rawMergeSettings)],
  },
]

/** Everything `collector schema` prints: the database, the ledger, then every migration (a backfill as one statement). */
export function schemaStatements(context: SchemaContext): string[] {
  return [
    createDatabase(context),
    ...createTable(context, migrationsTable),
    ...migrations.flatMap((migration) =>
      migration.statements(context).map((step) => (typeof step === 'string' ? step : `INSERT INTO ${step.into} ${step.select('')}`)),
    ),
  ]
}

async function runBackfill(client: ReturnType<Store['client']>, backfill: Backfill): Promise<void> {
  const count = await client.query({ query: `SELECT count() AS n FROM ${backfill.into}`, format: 'JSONEachRow' })
  const [filled] = await count.json<{ n: string }>()
  if (Number(filled?.n) > 0) return
  const slices = await client.query({
    query: `SELECT DISTINCT target, toString(toDate(${backfill.time})) AS day FROM ${backfill.from} ORDER BY day, target`,
    format: 'JSONEachRow',
  })
  for (const slice of await slices.json<{ target: string; day: string }>()) {
    await client.command({
      query: `INSERT INTO ${backfill.into} ${backfill.select(
        `WHERE target = {target:String} AND ${backfill.time} >= toDateTime({day:Date}) AND ${backfill.time} < toDateTime({day:Date}) + INTERVAL 1 DAY`,
      )}`,
      query_params: slice,
    })
  }
}

export interface MigrationReport {
  applied: Array<{ version: number; name: string }>
  current: number
}

/** `until` stops after that version: tests use it to build a store as an older collector left it. */
export async function migrate(store: Store, context: Omit<SchemaContext, 'database'>, until = Infinity): Promise<MigrationReport> {
  const full: SchemaContext = { ...context, database: store.database }
  const client = store.client('registry')
  await client.command({ query: createDatabase(full) })
  for (const statement of createTable(full, migrationsTable)) await client.command({ query: statement })

  const result = await client.query({
    query: `SELECT max(version) AS version FROM ${qualified(full, migrationsTable.name)}`,
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ version: number }>()
  let current = Number(row?.version ?? 0)
  const applied: MigrationReport['applied'] = []
  for (const migration of migrations) {
    if (migration.version <= current) continue
    if (migration.version > until) break
    for (const step of migration.statements(full)) {
      if (typeof step === 'string') await client.command({ query: step })
      else await runBackfill(client, step)
    }
    await client.insert({
      table: qualified(full, migrationsTable.name),
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    })
    current = migration.version
    applied.push({ version: migration.version, name: migration.name })
  }
  return { applied, current }
}
