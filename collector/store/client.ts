/**
 * Opens the store. All reads and writes go through @clickhouse/client; for
 * chDB the connection is swapped for the embedded engine.
 *
 * chDB runs the statements of one session one after another, so the store
 * opens a session per role: a long dashboard query on `query` never holds up
 * an insert on `ingest` or a token check on `registry`, and a scheduled fold
 * on `fold`, which may take seconds, never holds up a dashboard's query.
 * Several sessions on one path run in parallel; a second *process* on the
 * path is refused. The ingest and fold roles may have several sessions, so
 * that inserts run side by side.
 */
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type { ChdbExtension } from 'chdb/connection'
import { qualified } from './schema.ts'
import { parseStoreUrl, type StoreLocation } from './url.ts'

export type StoreRole = 'ingest' | 'query' | 'registry' | 'fold'

export interface TabSeparatedInsert {
  /** A table of the store's database, unqualified. */
  table: string
  columns: readonly string[]
  /** Rows as TabSeparated UTF-8, each ending in a newline. */
  data: Buffer
}

export interface Store {
  readonly location: StoreLocation
  readonly database: string
  /** A role's session; with several (chDB's ingest and fold roles), the `index`-th, counted round. */
  client(role: StoreRole, index?: number): ClickHouseClient
  /** Inserts rows already in TabSeparated, by the fastest path the store has. */
  insertTabSeparated(role: StoreRole, insert: TabSeparatedInsert): Promise<void>
  close(): Promise<void>
}

export class StoreOpenError extends Error {
  readonly code = 'STORE_OPEN'
}

const commonSettings: ClickHouseSettings = {
  // Rows arrive as ISO-8601 strings from the wire record.
  date_time_input_format: 'best_effort',
  // Keep a runaway query from taking the collector's memory with it.
  max_memory_usage: '4000000000',
}

/**
 * What the `query` role's sessions (the findings, the catchment report, the
 * dashboards' own SQL on the embedded store) run with, and the Grafana user
 * on a server too (dashboards/clickhouse/grafana-user.sql).
 *
 * No JIT compilation: ClickHouse compiles an expression, or a GROUP BY's
 * aggregate functions, the third time it sees them, inside the query that
 * sees them. At 100M rows that query took 300–400 ms longer (the current
 * findings: 1,010–1,080 ms on its fourth run in a fresh process, 600–840 ms
 * on the others), and the compiled code ran no faster afterwards: medians of
 * four dashboard queries, alternated in one process, within the noise of
 * each other (README, "Queries").
 */
export const querySettings: ClickHouseSettings = {
  compile_expressions: 0,
  compile_aggregate_expressions: 0,
}

/** A role's settings: every role's, and the query role's own. */
const settingsFor = (role: StoreRole): ClickHouseSettings => (role === 'query' ? { ...commonSettings, ...querySettings } : commonSettings)

export interface StoreOptions {
  /** Roles to open sessions for; all four when left out. */
  roles?: StoreRole[]
  /** Sessions for the ingest role (chDB only: a server's client already runs requests side by side). */
  ingestSessions?: number
  /** Sessions for the fold role (chDB only): an hour fold writes its two rollups side by side. */
  foldSessions?: number
}

interface Session {
  client: ClickHouseClient
  /** chDB's own insert: the payload goes to the engine as bytes. */
  chdb?: ChdbExtension
  /** Inserts running on this session now. */
  inserting: number
}

async function closeAll(clients: Map<StoreRole, Session[]>): Promise<void> {
  for (const sessions of clients.values()) for (const { client } of sessions) await client.close()
}

async function openChdb(location: Extract<StoreLocation, { kind: 'chdb' }>, roles: StoreRole[], sessionsOf: Partial<Record<StoreRole, number>>): Promise<Map<StoreRole, Session[]>> {
  // Loaded only here: the probe must never pull in ClickHouse's 550 MB library.
  const { createChdbConnection } = await import('chdb/connection')
  const clients = new Map<StoreRole, Session[]>()
  for (const role of roles.flatMap((role) => Array<StoreRole>(sessionsOf[role] ?? 1).fill(role))) {
    let connection
    try {
      connection = createChdbConnection({ path: location.path })
    } catch (error) {
      await closeAll(clients)
      const detail = (error as Error).message
      const hint = /lock|Another server instance|Failed to create connection/i.test(detail)
        ? ' — another process (a running `collector serve`?) holds it; stop that process, or use its admin API with --collector'
        : ''
      throw new StoreOpenError(`cannot open chdb store at ${location.path}${hint}`)
    }
    const session = { client: createClient({ connection, clickhouse_settings: settingsFor(role) } as Parameters<typeof createClient>[0]), chdb: connection.chdb, inserting: 0 }
    clients.set(role, [...(clients.get(role) ?? []), session])
  }
  return clients
}

function openServer(location: Extract<StoreLocation, { kind: 'server' }>, roles: StoreRole[]): Map<StoreRole, Session[]> {
  const clients = new Map<StoreRole, Session[]>()
  for (const role of roles) {
    clients.set(role, [{
      client: createClient({
        url: location.url,
        username: location.username,
        password: location.password,
        // Every statement names its database, so the same client can create it first.
        application: `catchment-collector-${role}`,
        clickhouse_settings: { ...settingsFor(role), async_insert: 0 },
        request_timeout: 60_000,
        compression: { request: true, response: true },
      }),
      inserting: 0,
    }])
  }
  return clients
}

/**
 * What every insert through `insertTabSeparated` (the measurements) runs
 * with. Each insert's rows have distinct ids (writer.ts drops repeats first),
 * and every rollup view groups by its table's key, so merging equal keys
 * inside an inserted block finds nothing to merge: skipping it saved the
 * engine a sixth of its insert time (1.9 of 10.9 s of CPU for 1M rows, by its
 * own counters).
 */
const insertSettings = { optimize_on_insert: 0 } as const

/**
 * chDB's insert takes none of the client's settings, so they are given in SQL
 * text. One payload's parsing is not split across threads: the inserts run
 * side by side already (`ingest.writers`), and splitting each one as well
 * only made the threads wait for the cores (the engine's CPU for 1M rows:
 * 7.5 s without, 9.1 s with).
 */
const chdbInsertSettings = { ...insertSettings, date_time_input_format: 'best_effort', input_format_parallel_parsing: 0 } as const

async function insertTabSeparated(session: Session, database: string, insert: TabSeparatedInsert): Promise<void> {
  if (session.chdb) {
    // The payload goes to the engine as the bytes it is, never copied into a query string on the JS heap.
    // It takes plain `db.table` only; database names are plain identifiers (url.ts), table names ours.
    await session.chdb.rawInsert({ table: `${database}.${insert.table}`, columns: insert.columns, values: insert.data, format: 'TabSeparated', settings: chdbInsertSettings })
    return
  }
  await session.client.command({
    query: `INSERT INTO ${qualified({ database }, insert.table)} (${insert.columns.join(', ')}) FORMAT TabSeparated\n${insert.data.toString('utf8')}`,
    clickhouse_settings: insertSettings,
  })
}

export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const { roles = ['ingest', 'query', 'registry', 'fold'], ingestSessions = 1, foldSessions = 1 } = options
  const location = parseStoreUrl(url)
  const clients = location.kind === 'chdb' ? await openChdb(location, roles, { ingest: ingestSessions, fold: foldSessions }) : openServer(location, roles)
  const sessions = (role: StoreRole): Session[] => {
    const open = clients.get(role) ?? clients.values().next().value
    if (!open) throw new StoreOpenError('store has no open sessions')
    return open
  }
  return {
    location,
    database: location.database,
    client: (role, index = 0) => {
      const open = sessions(role)
      return (open[index % open.length] as Session).client
    },
    async insertTabSeparated(role, insert) {
      // The least busy session: an insert queued behind another on one session would not run beside it.
      const session = sessions(role).reduce((idlest, next) => (next.inserting < idlest.inserting ? next : idlest))
      session.inserting++
      try {
        await insertTabSeparated(session, location.database, insert)
      } finally {
        session.inserting--
      }
    },
    close: () => closeAll(clients),
  }
}
