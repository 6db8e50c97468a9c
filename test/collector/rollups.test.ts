import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { writeRows } from '../../collector/ingest/writer.ts'
import { openStore, type Store } from '../../collector/store/client.ts'
import { rangeRowsSql } from '../../collector/analysis/range.ts'
import { analysisTables } from '../../collector/analysis/tables.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { dailyRollupView, hourlyRollupView, measurementsTable, networkRollupView, qualified, rollupTable, rollupView } from '../../collector/store/schema.ts'
import type { Measurement } from '../../probe/record.ts'
import { defaultMetadata, storeRows, tempDir, writeAsOlderCollector } from '../helpers/collector.ts'
import { makeRecord } from '../helpers/records.ts'

/** Two hours and a bit of one probe: a sample every 20 s, every tenth a timeout, PoPs alternating by hour. */
function twoHours(start: number): Measurement[] {
  return Array.from({ length: 400 }, (_, i) => {
    const ts = new Date(start + i * 20_000)
    const failed = i % 10 === 0
    return makeRecord({
      ts: ts.toISOString(),
      pop: ts.getUTCHours() % 2 === 0 ? 'ams' : 'fra',
      connect_ms: failed ? null : 1 + (i % 40),
      total_ms: failed ? null : 10 + (i % 40),
      error: failed ? 'TIMEOUT' : null,
      status: failed ? null : 200,
    })
  })
}

interface Totals {
  samples: number
  errors: number
  connect_samples: number
  hist_total: number
  timeouts: number
  p50: number
}

/** The tiers that keep quantile digests; the hour and day rollups per probe do not (migration 7). */
const withDigests = new Set(['measurements_1m', 'measurements_1h_net', 'measurements_1d_net'])

const totalsSql = (table: string) => `
  SELECT sum(samples) AS samples, sum(errors) AS errors, sum(connect_samples) AS connect_samples,
    arraySum(mapValues(sumMap(connect_hist))) AS hist_total, sumMap(errors_by_code)['TIMEOUT'] AS timeouts,
    ${withDigests.has(table) ? 'quantilesTDigestMerge(0.05, 0.25, 0.5, 0.75, 0.95)(connect_q)[3]' : 'NULL'} AS p50
  FROM catchment.${table}`

const time = (ms: number) => `toDateTime(${ms / 1000}, 'UTC')`

/**
 * A range read through range.ts (`got`: its sums, where its data ends, how
 * many rows it read) and the same range summed from the finest tier it reads
 * (`expected`): minutes for a short range, hours for a long one.
 */
async function readRange(store: Store, kind: 'probe' | 'network', unit: 'minutes' | 'hours', from: number, to: number | undefined) {
  const tables = kind === 'probe' ? { hours: 'measurements_1h', days: 'measurements_1d' } : { hours: 'measurements_1h_net', days: 'measurements_1d_net' }
  const finest = unit === 'minutes' ? 'measurements_1m_live' : tables.hours
  const tiered = rangeRowsSql(
    { ...analysisTables(store), hours: `catchment.${tables.hours}`, days: `catchment.${tables.days}`, hourly: unit === 'hours' ? '1' : '0' },
    ['samples', 'errors', 'connect_hist', ...(kind === 'network' ? ['connect_q', 'asn'] : ['probe'])],
    { from: time(from), to: to === undefined ? undefined : time(to) },
  )
  const upper = to === undefined ? '' : `AND period <= ${time(to)}`
  const sums = 'sum(samples) AS samples, sum(errors) AS errors, arraySum(mapValues(sumMap(connect_hist))) AS hist_total'
  const [expected] = await storeRows<Totals & { end: string }>(
    store,
    `SELECT ${sums}, toString(max(period) + ${unit === 'hours' ? 3600 : 60}) AS end FROM catchment.${finest} WHERE period >= ${time(from)} ${upper}`,
  )
  const [got] = await storeRows<Totals & { end: string; rows: number }>(store, `SELECT ${sums}, toString(max(period_end)) AS end, count() AS rows FROM ${tiered}`)
  assert.ok(expected && got)
  const { rows, ...totals } = got
  return { got: totals, expected, rows }
}

describe('the rollups', () => {
  let dataDir: string
  let store: Store
  // A fixed day, kept by the stores here (retention 3650 days) whenever the tests run.
  const start = Date.UTC(2026, 10, 20, 9, 30)

  before(async () => {
    dataDir = tempDir('rollups')
    store = await openStore(`chdb://${dataDir}`)
  })
  after(async () => {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('brings a store from before the hour rollup up to date, with its past hours backfilled', async () => {
    // The store as a collector before migration 4 left it: no histogram, no error codes, no hour rollup.
    await migrate(store, { retentionDays: 3650 }, 3)
    const minutes = qualified(store, rollupTable.name)
    const client = store.client('registry')
    await client.command({ query: `DROP VIEW ${qualified(store, rollupView.name)}` })
    await client.command({ query: `ALTER TABLE ${minutes} DROP COLUMN period, DROP COLUMN connect_hist, DROP COLUMN errors_by_code` })
    const oldSelect = rollupView.select(qualified(store, 'measurements')).replace(/,\n {2}sumMapIf[^\n]*connect_hist,\n {2}sumMapIf[^\n]*errors_by_code/, '')
    await client.command({ query: `CREATE MATERIALIZED VIEW ${qualified(store, rollupView.name)} TO ${minutes} AS ${oldSelect}` })
    // Its raw table merged as ClickHouse does by default, before migration 12.
    await client.command({ query: `ALTER TABLE ${qualified(store, measurementsTable.name)} RESET SETTING merge_selector_base` })
    await writeAsOlderCollector(store, twoHours(start))

    const report = await migrate(store, { retentionDays: 3650 })
    assert.deepEqual(report.applied.map((migration) => migration.version), [4, 5, 6, 7, 8, 9, 10, 11, 12])
    const [raw] = await storeRows<{ create_table_query: string }>(store, `SELECT create_table_query FROM system.tables WHERE database = 'catchment' AND name = 'measurements'`)
    assert.match(raw?.create_table_query ?? '', /SETTINGS .*merge_selector_base = 20/, 'the raw table now merges about twenty parts at once')

    const [minute] = await storeRows<Totals>(store, totalsSql('measurements_1m'))
    const [hour] = await storeRows<Totals>(store, totalsSql('measurements_1h'))
    const [network] = await storeRows<Totals>(store, totalsSql('measurements_1h_net'))
    assert.equal(hour?.samples, 400, 'the hours before the migration are backfilled from the minutes')
    assert.equal(network?.samples, 400, '…and the network hours from them')
    for (const day of ['measurements_1d', 'measurements_1d_net']) {
      const [total] = await storeRows<Totals>(store, totalsSql(day))
      assert.equal(total?.samples, 400, `…and the days (${day}) from the hours`)
    }
    assert.equal(hour?.errors, minute?.errors)
    assert.equal(hour?.hist_total, 0, 'minutes written before the histogram existed have none')

    // A second run of the migration must not count the backfill twice.
    await store.client('registry').command({ query: `DELETE FROM catchment.schema_migrations WHERE version = 4` })
    await migrate(store, { retentionDays: 3650 })
    const [again] = await storeRows<Totals>(store, totalsSql('measurements_1h'))
    assert.equal(again?.samples, 400)
  })

  it('agree with the raw rows once new measurements arrive: counts, error codes, histogram, quantiles', async () => {
    const later = start + 24 * 3_600_000
    await writeRows(store, twoHours(later), defaultMetadata)
    const since = `WHERE minute >= toStartOfHour(toDateTime(${later / 1000}))`
    const [raw] = await storeRows<Totals>(
      store,
      `SELECT count() AS samples, countIf(error IS NOT NULL) AS errors, count(connect_ms) AS connect_samples,
        count(connect_ms) AS hist_total, countIf(error = 'TIMEOUT') AS timeouts, quantileExact(0.5)(connect_ms) AS p50
       FROM catchment.measurements WHERE ts >= toDateTime(${later / 1000})`,
    )
    const [minute] = await storeRows<Totals>(store, totalsSql('measurements_1m') + ` ${since}`)
    const [hour] = await storeRows<Totals>(store, totalsSql('measurements_1h') + ` ${since.replace('minute', 'hour')}`)
    const [network] = await storeRows<Totals>(store, totalsSql('measurements_1h_net') + ` ${since.replace('minute', 'hour')}`)
    const sinceDay = `WHERE day >= toStartOfDay(toDateTime(${later / 1000}))`
    const [day] = await storeRows<Totals>(store, totalsSql('measurements_1d') + ` ${sinceDay}`)
    const [networkDay] = await storeRows<Totals>(store, totalsSql('measurements_1d_net') + ` ${sinceDay}`)
    for (const rollup of [minute, hour, network, day, networkDay]) {
      assert.equal(rollup?.samples, raw?.samples)
      assert.equal(rollup?.errors, raw?.errors)
      assert.equal(rollup?.timeouts, raw?.timeouts)
      assert.equal(rollup?.connect_samples, raw?.connect_samples)
      assert.equal(rollup?.hist_total, raw?.connect_samples, 'every connect lands in one histogram bucket')
    }
    for (const rollup of [minute, network, networkDay]) {
      assert.ok(Math.abs(Number(rollup?.p50) - Number(raw?.p50)) <= 1.5, `median ${rollup?.p50} vs ${raw?.p50}`)
    }
    const [hours] = await storeRows<{ n: number }>(store, `SELECT uniqExact(hour) AS n FROM catchment.measurements_1h ${since.replace('minute', 'hour')}`)
    assert.equal(hours?.n, 3, '400 samples 20 s apart from 09:30 reach into a third hour')
  })

  it('reads a range from hours and days counting every hour once, wherever the range starts and ends', async () => {
    // By now the store holds two hours and a bit on each of two days (09:30 on the 20th and the 21st).
    const hour = 3_600_000
    const midnight = Date.UTC(2026, 10, 20)
    const ranges: Array<[string, number, number | undefined]> = [
      ['mid-morning to mid-morning', midnight + 10 * hour + 15 * 60_000, midnight + 34 * hour],
      ['midnight to midnight', midnight, midnight + 48 * hour],
      ['the evening before to now', midnight - hour, undefined],
      ['within one day', midnight + 24 * hour + 10 * hour, midnight + 24 * hour + 11 * hour],
      ['from the second day on', midnight + 24 * hour, undefined],
    ]
    for (const [what, from, to] of ranges) {
      for (const kind of ['probe', 'network'] as const) {
        const { got, expected } = await readRange(store, kind, 'hours', from, to)
        assert.ok(Number(expected.samples) > 0, `${what}: the range holds samples`)
        assert.deepEqual(got, expected, `${what}, per ${kind}`)
      }
    }
  })

  it('reads a short range from minutes at its ends and whole hours between, keeping where each probe was last seen', async () => {
    const hour = 3_600_000
    const secondDay = Date.UTC(2026, 10, 21)
    const ranges: Array<[string, number, number | undefined]> = [
      ['mid-hour to mid-hour, across two whole hours', secondDay + 9 * hour + 45 * 60_000, secondDay + 11 * hour + 20 * 60_000],
      ['hour to hour', secondDay + 10 * hour, secondDay + 11 * hour],
      ['within one hour', secondDay + 10 * hour + 5 * 60_000, secondDay + 10 * hour + 50 * 60_000],
      ['the day before to now', secondDay - 20 * hour, undefined],
    ]
    for (const [what, from, to] of ranges) {
      for (const kind of ['probe', 'network'] as const) {
        const { got, expected } = await readRange(store, kind, 'minutes', from, to)
        assert.ok(Number(expected.samples) > 0, `${what}: the range holds samples`)
        assert.deepEqual(got, expected, `${what}, per ${kind}`)
      }
    }
    // From 09:10 on: the half hour of 09:xx from the minutes, then the hours 10:00 and 11:00, one row each.
    const { rows } = await readRange(store, 'probe', 'minutes', secondDay + 9 * hour + 10 * 60_000, undefined)
    assert.equal(rows, 30 + 2, 'the whole hours were read from the hour rollup')
  })

  it('puts each connect time in the bucket whose bound is the first power of √2 at or above it', async () => {
    const [row] = await storeRows<{ buckets: Record<string, number> }>(
      store,
      `SELECT CAST(sumMap(connect_hist), 'Map(String, UInt64)') AS buckets FROM catchment.measurements_1m WHERE minute >= toDateTime(${(start + 24 * 3_600_000) / 1000})`,
    )
    const expected = new Map<string, number>()
    for (const record of twoHours(start)) {
      if (record.connect_ms === null) continue
      const bucket = Math.min(30, Math.max(-6, Math.ceil(2 * Math.log2(record.connect_ms))))
      expected.set(String(bucket), (expected.get(String(bucket)) ?? 0) + 1)
    }
    assert.deepEqual(
      Object.fromEntries(Object.entries(row?.buckets ?? {}).map(([key, value]) => [key, Number(value)])),
      Object.fromEntries([...expected].sort(([a], [b]) => Number(a) - Number(b))),
    )
  })
})

describe('a store from before the digests left the hour and day rollups per probe', () => {
  let dataDir: string
  let store: Store
  const start = Date.UTC(2026, 10, 20, 9, 30)

  before(async () => {
    dataDir = tempDir('rollups-7')
    store = await openStore(`chdb://${dataDir}`)
  })
  after(async () => {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** The store as a collector at migration 6 left it: digests in every tier, the network hours fed from the probe hours. */
  async function asMigration6Left(): Promise<void> {
    await migrate(store, { retentionDays: 3650 }, 6)
    const client = store.client('registry')
    const run = (query: string) => client.command({ query })
    for (const view of [networkRollupView, hourlyRollupView, dailyRollupView]) await run(`DROP VIEW ${qualified(store, view.name)}`)
    const digests = `ADD COLUMN connect_q AggregateFunction(quantilesTDigest(0.05, 0.25, 0.5, 0.75, 0.95), Nullable(Float64)) AFTER connect_min,
      ADD COLUMN total_q AggregateFunction(quantilesTDigest(0.05, 0.25, 0.5, 0.75, 0.95), Nullable(Float64)) AFTER connect_q`
    for (const table of ['measurements_1h', 'measurements_1d']) await run(`ALTER TABLE ${qualified(store, table)} ${digests}`)
    // Nor did an hour row know its last minute before migration 10.
    for (const table of ['measurements_1h', 'measurements_1h_net']) await run(`ALTER TABLE ${qualified(store, table)} DROP COLUMN last_minute`)
    const withoutLastMinute = (select: string) => select.replace(/,\s*max\(minute\) AS last_minute/, '')
    const mergedDigests = `min(connect_min) AS connect_min,
  quantilesTDigestMergeState(0.05, 0.25, 0.5, 0.75, 0.95)(connect_q) AS connect_q,
  quantilesTDigestMergeState(0.05, 0.25, 0.5, 0.75, 0.95)(total_q) AS total_q,`
    for (const view of [hourlyRollupView, dailyRollupView]) {
      await run(`CREATE MATERIALIZED VIEW ${qualified(store, view.name)} TO ${qualified(store, view.to)} AS ${withoutLastMinute(view.select(qualified(store, view.from))).replace('min(connect_min) AS connect_min,', mergedDigests)}`)
    }
    const hours = qualified(store, 'measurements_1h')
    await run(`CREATE MATERIALIZED VIEW ${qualified(store, networkRollupView.name)} TO ${qualified(store, networkRollupView.to)} AS ${withoutLastMinute(networkRollupView.select(hours).replace('toStartOfHour(minute) AS hour', 'hour'))}`)
  }

  it('drops them, feeds the network hours from the minutes, and still counts every sample once', async () => {
    await asMigration6Left()
    await writeAsOlderCollector(store, twoHours(start))
    const [before] = await storeRows<Totals>(store, totalsSql('measurements_1h_net'))
    assert.equal(before?.samples, 400, 'the old network view, fed from the hours, counted the samples')

    const report = await migrate(store, { retentionDays: 3650 })
    assert.deepEqual(report.applied.map((migration) => migration.version), [7, 8, 9, 10, 11, 12])
    const columns = await storeRows<{ table: string }>(store, `SELECT DISTINCT table FROM system.columns WHERE database = 'catchment' AND name IN ('connect_q', 'total_q') AND NOT endsWith(table, '_mv') AND NOT endsWith(table, '_live') ORDER BY table`)
    assert.deepEqual(
      columns.map((column) => column.table),
      ['measurements_1d_net', 'measurements_1h_net', 'measurements_1m', 'measurements_1m_pending'],
      'digests only where they are read, and in the minutes a folding collector has yet to fold into the hours',
    )
    const [view] = await storeRows<{ query: string }>(store, `SELECT as_select AS query FROM system.tables WHERE database = 'catchment' AND name = 'measurements_1h_net_mv'`)
    assert.match(view?.query ?? '', /FROM catchment\.measurements_1m\b/)

    // A day later, through the new views: each tier holds both days' samples, each once.
    const later = start + 24 * 3_600_000
    await writeRows(store, twoHours(later), defaultMetadata)
    for (const table of ['measurements_1m', 'measurements_1h', 'measurements_1h_net', 'measurements_1d', 'measurements_1d_net']) {
      const [total] = await storeRows<Totals>(store, totalsSql(table))
      assert.equal(total?.samples, 800, `${table} counts every sample once`)
      assert.equal(total?.hist_total, 720, `${table}: every connect in one bucket`)
    }
    const [raw] = await storeRows<{ p50: number }>(store, `SELECT quantileExact(0.5)(connect_ms) AS p50 FROM catchment.measurements WHERE ts >= toDateTime(${later / 1000})`)
    const [network] = await storeRows<Totals>(store, `${totalsSql('measurements_1h_net')} WHERE hour >= toStartOfHour(toDateTime(${later / 1000}))`)
    assert.ok(Math.abs(Number(network?.p50) - Number(raw?.p50)) <= 1.5, `the network hours' median ${network?.p50} vs the samples' ${raw?.p50}`)

    // A short range over both days: hours from before migration 10 do not know their last minute, and end with their hour.
    for (const kind of ['probe', 'network'] as const) {
      const { got } = await readRange(store, kind, 'minutes', start - 3_600_000, start + 6 * 3_600_000)
      assert.equal(got.samples, 400, `per ${kind}: the old hours' samples, each once`)
      assert.equal(got.end, '2026-11-20 12:00:00', `per ${kind}: the old rows' last hour, 11:00, read as ending at 12:00`)
      const { got: newer, expected } = await readRange(store, kind, 'minutes', later - 3_600_000, undefined)
      assert.deepEqual(newer, expected, `per ${kind}: hours written since know their last minute`)
    }
  })
})
