import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { request } from 'undici'
import { killChildren, runCli, startServe } from '../helpers/cli.ts'
import { ndjson, queryStore, tempDir } from '../helpers/collector.ts'
import { makeRecord } from '../helpers/records.ts'

const post = async (url: string, token: string, body: string) => {
  const response = await request(`${url}/v1/measurements`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body })
  return { status: response.statusCode, json: (await response.body.json()) as Record<string, number> }
}

async function countRows(store: string, probe: string): Promise<number> {
  const [row] = await queryStore<{ c: string }>(store, 'SELECT count() AS c FROM catchment.measurements WHERE probe = {probe:String}', { probe })
  return Number(row?.c)
}


// A failed assertion must not leave a collector or agent running: the test run would never end.
after(killChildren)

describe('an operator runs the collector from the command line', () => {
  const dir = tempDir('cli')
  const store = `chdb://${dir}/data`
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('registers a probe and gets its token alone on one line of stdout', async () => {
    const result = await runCli('collector', ['probe', 'add', 'fra-1', '--asn', '3320', '--isp', 'Deutsche Telekom', '--country', 'de', '--city', 'Frankfurt', '--lat', '50.11', '--lon', '8.68', '--tag', 'eyeball', '--store', store])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^ctk_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}\n$/)

    const list = await runCli('collector', ['probe', 'list', '--json', '--store', store])
    const [probe] = list.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    assert.deepEqual(
      { probe: probe?.probe, asn: probe?.asn, isp: probe?.isp, country: probe?.country, tags: probe?.tags, revokedAt: probe?.revokedAt },
      { probe: 'fra-1', asn: 3320, isp: 'Deutsche Telekom', country: 'DE', tags: ['eyeball'], revokedAt: null },
    )
    assert.doesNotMatch(list.stdout, /secret|selector/, 'the token’s hash never leaves the store')
  })

  it('refuses a second probe with the same id, and bad metadata, in one line', async () => {
    const duplicate = await runCli('collector', ['probe', 'add', 'fra-1', '--store', store])
    assert.equal(duplicate.code, 1)
    assert.match(duplicate.stderr, /^collector: error: probe "fra-1" already exists/)
    const badLat = await runCli('collector', ['probe', 'add', 'x-1', '--lat', '91', '--store', store])
    assert.equal(badLat.code, 1)
    assert.match(badLat.stderr, /lat/)
    assert.doesNotMatch(badLat.stderr, /\n\s+at /)
  })

  it('SIGTERM flushes what was acknowledged, exits 0, and a restart still has it', async () => {
    const token = (await runCli('collector', ['probe', 'add', 'ams-9', '--store', store])).stdout.trim()
    const records = Array.from({ length: 25 }, () => makeRecord({ probe: 'ams-9' }))

    // Batches wait up to 3 s to be grouped, so the signal arrives while this one is still queued.
    const slowBatching = path.join(dir, 'slow-batching.yaml')
    writeFileSync(slowBatching, 'ingest:\n  batch_ms: 3000\n')
    const first = await startServe(['--store', store, '--config', slowBatching])
    const inFlight = post(first.url, token, ndjson(records))
    await new Promise((resolve) => setTimeout(resolve, 500))
    const exitCode = first.stop('SIGTERM')
    assert.equal((await inFlight).json.accepted, 25, 'the queued batch is written and acknowledged')
    assert.equal(await exitCode, 0, first.stderr())
    assert.equal(await countRows(store, 'ams-9'), 25)

    const second = await startServe(['--store', store])
    const retried = await post(second.url, token, ndjson(records))
    assert.deepEqual([retried.json.accepted, retried.json.duplicates], [25, 25], 'the restarted collector knows them')
    assert.equal(await second.stop('SIGTERM'), 0)
    assert.equal(await countRows(store, 'ams-9'), 25)
  })

  it('revokes a probe through a running collector’s admin API', async () => {
    const serving = await startServe(['--store', store], { CATCHMENT_ADMIN_TOKEN: 'an-admin-token-of-length' })
    try {
      const locked = await runCli('collector', ['probe', 'add', 'while-running', '--store', store])
      assert.equal(locked.code, 1)
      assert.match(locked.stderr, /another process \(a running `collector serve`\?\) holds it/)

      const env = { CATCHMENT_ADMIN_TOKEN: 'an-admin-token-of-length' }
      const added = await runCli('collector', ['probe', 'add', 'while-running', '--collector', serving.url], { env })
      assert.equal(added.code, 0, added.stderr)
      const token = added.stdout.trim()
      assert.equal((await post(serving.url, token, ndjson([makeRecord({ probe: 'while-running' })]))).status, 200)
      assert.equal((await runCli('collector', ['probe', 'revoke', 'while-running', '--collector', serving.url], { env })).code, 0)
      assert.equal((await post(serving.url, token, ndjson([makeRecord({ probe: 'while-running' })]))).status, 401)
    } finally {
      await serving.stop()
    }
  })

  it('names the mistyped key of a bad config file, and exits 1', async () => {
    const file = path.join(dir, 'collector.yaml')
    writeFileSync(file, 'port: 8080\nretention_dyas: 30\n')
    const result = await runCli('collector', ['serve', '--config', file])
    assert.equal(result.code, 1)
    assert.equal(result.stderr.trim(), `collector: error: ${file}: unknown key "retention_dyas"`)

    writeFileSync(file, 'schedule:\n  targets:\n    - name: a\n      url: https://a.example/\n      interval: 10\n')
    const nested = await runCli('collector', ['serve', '--config', file])
    assert.match(nested.stderr, /unknown key "schedule\.targets\.0\.interval"/)
  })

  it('prints findings as a table, or as JSON', async () => {
    const table = await runCli('collector', ['findings', '--since', '1h', '--store', store])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^no findings since \d{4}-/)
    const json = await runCli('collector', ['findings', '--json', '--store', store])
    assert.deepEqual(Object.keys(JSON.parse(json.stdout) as object), ['since', 'findings', 'unknown_pops'])
    const bad = await runCli('collector', ['findings', '--since', 'yesterday', '--store', store])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /neither a duration/)
  })

  it('says clearly when the store URL is wrong', async () => {
    const result = await runCli('collector', ['migrate', '--store', 'postgres://nope'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /unsupported scheme "postgres:"/)
  })
})

describe('the schema, printed for a cluster', () => {
  it('is the same tables as ReplicatedMergeTree shards behind Distributed tables, ON CLUSTER', async () => {
    const result = await runCli('collector', ['schema', '--cluster', 'fleet'])
    assert.equal(result.code, 0)
    const ddl = result.stdout
    assert.match(ddl, /CREATE DATABASE IF NOT EXISTS `catchment` ON CLUSTER `fleet`/)
    assert.match(ddl, /`catchment`\.`measurements_local` ON CLUSTER `fleet`[\s\S]*ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/catchment\/measurements_local', '\{replica\}'\)/)
    assert.match(ddl, /`catchment`\.`measurements` ON CLUSTER `fleet` AS `catchment`\.`measurements_local`\nENGINE = Distributed\(`fleet`, `catchment`, `measurements_local`, cityHash64\(probe\)\)/)
    assert.match(ddl, /ReplicatedAggregatingMergeTree\('\/clickhouse\/tables\/\{shard\}\/catchment\/measurements_1m_local'/)
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_1m_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_1m_local`[\s\S]*FROM `catchment`\.`measurements_local`/)
    assert.match(ddl, /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/catchment\/probes_local', '\{replica\}', updated_at\)/)
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_1h_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_1h_local`[\s\S]*FROM `catchment`\.`measurements_1m_local`/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1m_local` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS connect_hist/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1m` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS connect_hist/)
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_1d_net_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_1d_net_local`[\s\S]*FROM `catchment`\.`measurements_1h_net_local`/)
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_1h_net_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_1h_net_local`[\s\S]*FROM `catchment`\.`measurements_1m_local`/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1h_local` ON CLUSTER `fleet` DROP COLUMN IF EXISTS `connect_q`, DROP COLUMN IF EXISTS `total_q`/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1d` ON CLUSTER `fleet` DROP COLUMN IF EXISTS `connect_q`/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_local` ON CLUSTER `fleet` ADD INDEX IF NOT EXISTS received_at_minmax/)
    assert.doesNotMatch(ddl, /ALTER TABLE `catchment`\.`measurements` ON CLUSTER `fleet` (ADD|MATERIALIZE) INDEX/, 'a Distributed table has no indexes')
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1m_local` ON CLUSTER `fleet` MODIFY SETTING non_replicated_deduplication_window/)
    assert.match(ddl, /`catchment`\.`measurements_local` ON CLUSTER `fleet`\n[\s\S]*?\nTTL [^\n]*\nSETTINGS merge_selector_base = 20;/, 'the raw table merges wide from the start')
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_local` ON CLUSTER `fleet` MODIFY SETTING merge_selector_base = 20/, '…and a store made before migration 12 is told so')
    assert.match(ddl, /CREATE OR REPLACE VIEW `catchment`\.`measurements_1m_live` ON CLUSTER `fleet` AS\nSELECT [^\n]* FROM `catchment`\.`measurements_1m`\n/, 'the live minutes read the Distributed tables')
    assert.match(
      ddl,
      /`catchment`\.`measurements_input_local` ON CLUSTER `fleet`\n\(\n {2}id UUID,\n {2}ts DateTime64\(3, 'UTC'\),\n {2}probe String,[\s\S]*?\nENGINE = Null\(\);/,
      'the input table stores nothing, so it is not replicated, and takes names as plain strings',
    )
    assert.match(ddl, /`catchment`\.`measurements_input` ON CLUSTER `fleet` AS `catchment`\.`measurements_input_local`\nENGINE = Distributed\(`fleet`, `catchment`, `measurements_input_local`, cityHash64\(probe\)\)/)
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_input_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_local`\nAS SELECT id, ts, [^\n]*, collector\nFROM `catchment`\.`measurements_input_local`/)
    const creates = ddl.match(/^CREATE /gm) ?? []
    assert.equal(
      creates.length,
      1 + 2 * 14 + 6 + 3 + 1 + 1 + 3 + 2,
      'database, 14 tables × (local + distributed), the minute view (made anew by migration 4), the hour, network, and two day views, the three migration 7 made anew, the live minutes, the input view, migration 10’s two hour views made anew and its unfolded rows, and migration 11’s pending minutes view and settled hours',
    )
    assert.match(ddl, /`catchment`\.`measurements_1m_pending_local` ON CLUSTER `fleet`[\s\S]*?ENGINE = ReplicatedMergeTree\([^\n]*\)\nPARTITION BY \(collector, folded_to\)/, 'a partition per collector and minute fold, dropped once folded into the hours')
    assert.match(ddl, /MATERIALIZED VIEW IF NOT EXISTS `catchment`\.`measurements_1m_pending_mv` ON CLUSTER `fleet`\nTO `catchment`\.`measurements_1m_local`\nAS SELECT minute, [^\n]*\nFROM `catchment`\.`measurements_1m_pending_local`/)
    assert.match(ddl, /`catchment`\.`rollup_hour_folds` ON CLUSTER `fleet` AS `catchment`\.`rollup_hour_folds_local`/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1h_net_local` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS last_minute/)
    assert.match(ddl, /ALTER TABLE `catchment`\.`measurements_1h_net` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS last_minute/)
    assert.match(
      ddl,
      /CREATE OR REPLACE VIEW `catchment`\.`measurements_1h_settled` ON CLUSTER `fleet` AS\nSELECT least\(\n[^\n]* FROM `catchment`\.`measurements`\n[\s\S]*?FROM `catchment`\.`measurements_1m_pending` WHERE/,
      'the settled hours read the Distributed tables',
    )
  })

  it('without --cluster is the single-node schema that migrate applies', async () => {
    const result = await runCli('collector', ['schema'])
    assert.doesNotMatch(result.stdout, /ON CLUSTER|Replicated|Distributed/)
    assert.match(result.stdout, /ENGINE = ReplacingMergeTree\(\)\nPARTITION BY toYYYYMM\(ts\)\nORDER BY \(target, probe, ts, id\)\nTTL toDateTime\(ts\) \+ INTERVAL 400 DAY/)
  })
})
