/**
 * A collector for tests: real chDB in a temporary directory, real HTTP on a
 * free port. In-process, so a test can also look into the store; chDB allows
 * one data directory per process, so a test file uses one at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { request } from 'undici'
import { parseConfig, type CollectorConfig } from '../../collector/config.ts'
import { rowBatch } from '../../collector/ingest/rows.ts'
import { rowColumns } from '../../collector/ingest/tsv.ts'
import { createLogger } from '../../collector/logger.ts'
import { startCollector, type RunningCollector } from '../../collector/server.ts'
import { openStore, type Store } from '../../collector/store/client.ts'
import { ProbeRegistry, type ProbeMetadata } from '../../collector/store/probes.ts'
import { measurementsTable } from '../../collector/store/schema.ts'
import type { Measurement } from '../../probe/record.ts'

export interface TestCollector {
  url: string
  dataDir: string
  config: CollectorConfig
  store: Store
  collector: RunningCollector
  addProbe(probe: string, metadata?: Partial<ProbeMetadata>): Promise<string>
  post(token: string, body: string | Buffer | Readable, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }>
  rows<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>
  stop(): Promise<void>
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `catchment-${prefix}-`))
}

export function ndjson(records: readonly Measurement[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + '\n'
}

export { gzipSync }

export const defaultMetadata: ProbeMetadata = {
  asn: 64500,
  isp: 'Example Net',
  country: 'NL',
  city: 'Amsterdam',
  lat: 52.37,
  lon: 4.9,
  tags: [],
}

export async function startTestCollector(overrides: Record<string, unknown> = {}): Promise<TestCollector> {
  const dataDir = tempDir('collector')
  const config = parseConfig({ store: `chdb://${dataDir}`, host: '127.0.0.1', port: 0, ...overrides })
  const collector = await startCollector(config, createLogger('silent'))
  const store = await openStore(config.store, { roles: ['query'] })
  const registry = new ProbeRegistry(store)
  const url = `http://127.0.0.1:${collector.port}`
  return {
    url,
    dataDir,
    config,
    store,
    collector,
    async addProbe(probe, metadata = {}) {
      return (await registry.add(probe, { ...defaultMetadata, ...metadata })).token
    },
    async post(token, body, headers = {}) {
      const response = await request(`${url}/v1/measurements`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', ...headers },
        body,
      })
      const text = await response.body.text()
      return { status: response.statusCode, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
    },
    async rows(sql, params) {
      const result = await store.client('query').query({ query: sql, query_params: params, format: 'JSONEachRow' })
      return result.json()
    },
    async stop() {
      await collector.stop()
      await store.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Records written as a collector before migration 9 wrote them, straight into the raw table: how the tests of old stores fill them. */
export async function writeAsOlderCollector(store: Store, records: readonly Measurement[], metadata: ProbeMetadata = defaultMetadata): Promise<void> {
  await store.insertTabSeparated('ingest', { table: measurementsTable.name, columns: rowColumns, data: rowBatch(records, metadata).rows })
}

/** Rows of one query on an open store, numbers as numbers (not the JSON strings ClickHouse gives 64-bit integers). */
export async function storeRows<T>(store: Store, sql: string): Promise<T[]> {
  const result = await store.client('query').query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })
  return result.json<T>()
}

/** Runs one query on a store no process holds (a stopped `collector serve`'s). */
export async function queryStore<T = Record<string, unknown>>(storeUrl: string, sql: string, params?: Record<string, unknown>): Promise<T[]> {
  const opened = await openStore(storeUrl, { roles: ['query'] })
  try {
    const result = await opened.client('query').query({ query: sql, query_params: params, format: 'JSONEachRow' })
    return await result.json<T>()
  } finally {
    await opened.close()
  }
}
