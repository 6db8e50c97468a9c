/**
 * Versioned migrations. Each runs once, in order, and is recorded in
 * `schema_migrations`; `collector serve` applies what is pending at start, so
 * a new collector on an old store brings it up to date before taking traffic.
 * Statements are idempotent (IF NOT EXISTS), so a migration cut short by a
 * crash simply runs again.
 */
import type { Store } from './client.ts'
import {
  addColumns,
  createDatabase,
  createTable,
  createView,
  dropView,
  heartbeatsTable,
  hourFromMinute,
  hourlyRollupTable,
  hourlyRollupView,
  measurementsTable,
  migrationsTable,
  popLocationsTable,
  probesTable,
  mergeRollupSql,
  networkRollupSql,
  networkRollupTable,
  networkRollupView,
  qualified,
  rollupTable,
  rollupView,
  type SchemaContext,
} from './schema.ts'

export interface Migration {
  version: number
  name: string
  statements(context: SchemaContext): string[]
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
    statements: (context) => {
      const hourly = qualified(context, hourlyRollupTable.name)
      const minutes = qualified(context, rollupTable.name)
      return [
        // A store from before this migration has the minute rollup without these columns; a new one has them already.
        ...addColumns(context, rollupTable, rollupTable.columns.filter((column) => /^(connect_hist|errors_by_code|period) /.test(column))),
        dropView(context, rollupView),
        createView(context, rollupView),
        ...createTable(context, hourlyRollupTable),
        // Hours before this migration come from the minute rollup. Migrations run before the collector
        // takes traffic, and the backfill runs only into an empty table, so a rerun cannot count twice.
        `INSERT INTO ${hourly} ${mergeRollupSql(`${minutes} WHERE (SELECT count() FROM ${hourly}) = 0`, hourFromMinute)}`,
        createView(context, hourlyRollupView),
      ]
    },
  },
  {
    version: 5,
    name: 'hour rollup per network, for fleet-wide dashboard panels over long ranges',
    statements: (context) => {
      const network = qualified(context, networkRollupTable.name)
      return [
        ...createTable(context, networkRollupTable),
        // As in migration 4: from the hour rollup, only into an empty table, before the view exists.
        `INSERT INTO ${network} ${networkRollupSql(`${qualified(context, hourlyRollupTable.name)} WHERE (SELECT count() FROM ${network}) = 0`)}`,
        createView(context, networkRollupView),
      ]
    },
  },
]

/** Everything `collector schema` prints: the database, the ledger, then every migration. */
export function schemaStatements(context: SchemaContext): string[] {
  return [
    createDatabase(context),
    ...createTable(context, migrationsTable),
    ...migrations.flatMap((migration) => migration.statements(context)),
  ]
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
    for (const statement of migration.statements(full)) await client.command({ query: statement })
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
