import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { rowBatch } from '../../collector/ingest/rows.ts'
import { writeBatches, writeRows } from '../../collector/ingest/writer.ts'
import { createLogger } from '../../collector/logger.ts'
import { createMetrics } from '../../collector/metrics.ts'
import { rangeRowsSql } from '../../collector/analysis/range.ts'
import { analysisTables } from '../../collector/analysis/tables.ts'
import { restoreHourViews } from '../../collector/rollups/hour-fold.ts'
import { MinuteFold, ReceiptClock, restoreMinuteView } from '../../collector/rollups/minute-fold.ts'
import { openStore, type Store } from '../../collector/store/client.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { rollupQuantiles, rollupView } from '../../collector/store/schema.ts'
import type { Measurement } from '../../probe/record.ts'
import { defaultMetadata, storeRows, ndjson, startTestCollector, tempDir, type TestCollector } from '../helpers/collector.ts'
import { makeRecord } from '../helpers/records.ts'

const collector = 'collector-a'
/** Midnight UTC a day ago: the test's rows stay well inside the store's retention whenever it runs. */
const yesterday = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000
const at = (hours: number, minutes = 0) => yesterday + hours * 3_600_000 + minutes * 60_000
const tiers = ['measurements_1m', 'measurements_1h', 'measurements_1h_net', 'measurements_1d', 'measurements_1d_net']

/** A probe's ten minutes, a sample every 10 s from `start`, every tenth a timeout. */
function tenMinutes(start: number, probe = 'fold-probe'): Measurement[] {
  return Array.from({ length: 60 }, (_, i) => {
    const failed = i % 10 === 0
    return makeRecord({
      probe,
      ts: new Date(start + i * 10_000).toISOString(),
      connect_ms: failed ? null : 2 + (i % 7),
      total_ms: failed ? null : 20 + (i % 7),
      error: failed ? 'TIMEOUT' : null,
      status: failed ? null : 200,
    })
  })
}

/** Samples every tier counts, and the raw rows: folded right, all six are equal. */
async function counts(store: Store): Promise<{ raw: number } & Record<string, number>> {
  const sums = tiers.map((table) => `(SELECT sum(samples) FROM catchment.${table}) AS ${table}`).join(', ')
  // What the dashboards read for short ranges: the minutes and what is not folded yet.
  const [live] = await storeRows<{ samples: number }>(store, 'SELECT sum(samples) AS samples FROM catchment.measurements_1m_live')
  assert.equal(live?.samples, (await storeRows<{ n: number }>(store, 'SELECT count() AS n FROM catchment.measurements'))[0]?.n, 'the live minutes count every row once, folded or not')
  const [row] = await storeRows<{ raw: number } & Record<string, number>>(store, `SELECT (SELECT count() FROM catchment.measurements) AS raw, ${sums}`)
  assert.ok(row)
  return row
}

function assertCountedOnce(found: Record<string, number>, expected: number, message: string): void {
  assert.deepEqual(found, Object.fromEntries([['raw', expected], ...tiers.map((table) => [table, expected])]), message)
}

/** What the minute view would have written for the raw rows, by minute: the fold must match it. */
const perMinuteSql = (from: string) => `
  SELECT minute, sum(samples) AS samples, sum(errors) AS errors, min(connect_min) AS connect_min,
    arrayMap(q -> round(q, 3), quantilesTDigestMerge(${rollupQuantiles})(connect_q)) AS connect_q
  FROM (${from}) GROUP BY minute ORDER BY minute`

describe('the minute rollup folded on a schedule', () => {
  let dataDir: string
  let store: Store
  let pending: number | undefined
  /** The hours are folded at every fold unless a test says otherwise. */
  let hourFoldEveryMs = 0
  const clock = new ReceiptClock()
  const context = { database: 'catchment', retentionDays: 30 }
  const fold = () =>
    new MinuteFold({ store, context, collector, clock, oldestUnsettled: () => pending, hourFoldEveryMs, metrics: createMetrics(), logger: createLogger('silent') })
  let folder: MinuteFold

  /** Writes records as this collector would, received now (or at `receivedAt`). */
  const receive = (records: Measurement[], receivedAt = clock.now()) =>
    writeBatches(store, [rowBatch(records, defaultMetadata, { firstAttempt: true, receipt: { collector, receivedAt } })])

  /**
   * `from` to `to`, as a short range reads it (range.ts): a probe's samples, rows and end, and its
   * network's median connect time (the network rollups keep the digests; no other probe measured then).
   */
  async function readShortRange(probe: string, from: number, to: number): Promise<{ samples: number; rows: number; end: number; p50: number }> {
    const tables = analysisTables(store)
    const bounds = { from: `toDateTime(${from / 1000})`, to: `toDateTime(${to / 1000})` }
    const probeRows = rangeRowsSql({ ...tables, hourly: '0' }, ['probe', 'samples'], { ...bounds, where: `AND probe = '${probe}'` })
    const networkRows = rangeRowsSql({ ...tables, hours: tables.networkHours, days: tables.networkDays, hourly: '0' }, ['asn', 'connect_q'], bounds)
    const [row] = await storeRows<{ samples: number; rows: number; end: number; p50: number }>(
      store,
      `SELECT sum(samples) AS samples, count() AS rows, toUnixTimestamp(max(period_end)) AS end,
        (SELECT quantilesTDigestMerge(${rollupQuantiles})(connect_q)[3] FROM ${networkRows}) AS p50
       FROM ${probeRows}`,
    )
    assert.ok(row)
    return row
  }

  before(async () => {
    dataDir = tempDir('minute-fold')
    store = await openStore(`chdb://${dataDir}`)
    await migrate(store, { retentionDays: 30 })
    folder = fold()
  })
  after(async () => {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('takes over from the minute view: every row once, in the minute it measured, a spool’s late rows too', async () => {
    const beforeSwitch = tenMinutes(at(8), 'counted-by-the-view')
    await writeRows(store, beforeSwitch, defaultMetadata)
    await folder.prepare()
    const [view] = await storeRows<{ n: number }>(store, "SELECT count() AS n FROM system.tables WHERE database = 'catchment' AND name IN ('measurements_1m_mv', 'measurements_1h_mv', 'measurements_1h_net_mv')")
    assert.equal(view?.n, 0, 'no view feeds the minute rollup, nor the hour rollups from it')

    const live = tenMinutes(at(7, 0))
    const fromSpool = tenMinutes(at(0, -5), 'back-from-an-outage')
    await receive(live)
    await receive(fromSpool)
    const unfolded = await counts(store)
    assert.equal(unfolded.raw, 180)
    assert.equal(unfolded.measurements_1m, 60, 'rows received since are not counted until they are folded')

    const { minutes: window } = await folder.foldDue()
    assert.ok(window && window.to > window.from, 'one window, up to now')
    assertCountedOnce(await counts(store), 180, 'after the fold every tier counts every row once')
    const viewWouldWrite = perMinuteSql(rollupView.select('catchment.measurements'))
    assert.deepEqual(await storeRows(store, perMinuteSql('SELECT * FROM catchment.measurements_1m')), await storeRows(store, viewWouldWrite), 'each minute as the view would have made it')
    const [late] = await storeRows<{ samples: number }>(store, `SELECT sum(samples) AS samples FROM catchment.measurements_1m WHERE probe = 'back-from-an-outage' AND minute < toDateTime(${yesterday / 1000})`)
    assert.equal(late?.samples, 30, 'a late row lands in the minute it measured')
    const { minutes: idle } = await folder.foldDue()
    assert.equal(idle?.rawRows, 0, 'nothing received since, nothing folded')
  })

  it('stops a window short of a row still in the queue, and folds that row once it is committed', async () => {
    const counted = (await counts(store)).raw
    const held = tenMinutes(at(7, 10))
    const receivedAt = clock.now()
    pending = receivedAt // the queue holds it: received, not yet committed
    await sleep(5)
    await receive(tenMinutes(at(7, 20)))
    const { minutes: window } = await folder.foldDue()
    assert.equal(window?.to, receivedAt, 'the window ends where the held row begins')
    await receive(held, receivedAt) // the insert commits after the fold
    pending = undefined
    await folder.foldDue()
    assertCountedOnce(await counts(store), counted + 120, 'the held rows were folded by the next window, not lost')
  })

  it('folds a window again after a crash between its fold and its ledger entry, and counts it once', async () => {
    await receive(tenMinutes(at(7, 30)))
    const { minutes: window } = await folder.foldDue()
    assert.ok(window)
    const counted = await counts(store)
    // The process died after the fold's insert and before its `done`: the ledger's last word is `started`.
    await store.client('registry').command({
      query: `ALTER TABLE catchment.rollup_folds DELETE WHERE state = 'done' AND folded_to = fromUnixTimestamp64Milli(${window.to}, 'UTC')`,
      clickhouse_settings: { mutations_sync: '2' },
    })
    const restarted = fold()
    await restarted.prepare()
    const { minutes: next } = await restarted.foldDue()
    assert.equal(next?.from, window.to, 'the started window was folded again, and the next one starts where it ends')
    assert.deepEqual(await counts(store), counted, 'the fold run again was recognised in every tier')
    const [ledger] = await storeRows<{ state: string }>(store, `SELECT state FROM catchment.rollup_folds WHERE folded_to = fromUnixTimestamp64Milli(${window.to}, 'UTC') ORDER BY state DESC LIMIT 1`)
    assert.equal(ledger?.state, 'done')
  })

  it('never stamps a row into a window already folded, even when the clock steps back', () => {
    const stepped = new ReceiptClock()
    const folded = Date.now() + 60_000
    stepped.notBefore(folded)
    assert.ok(stepped.now() >= folded)
  })

  it('reads a short range’s whole hours from the hour rollups only while no row of them waits to be folded', async () => {
    const probe = 'range-probe'
    await receive([...tenMinutes(at(3), probe), ...tenMinutes(at(4), probe), ...tenMinutes(at(5, 20), probe)])
    await folder.foldDue()
    const read = () => readShortRange(probe, at(2, 30), at(6))
    const [raw] = await storeRows<{ p50: number }>(store, `SELECT quantileExact(0.5)(connect_ms) AS p50 FROM catchment.measurements WHERE probe = '${probe}'`)
    const settled = await read()
    assert.deepEqual({ ...settled, p50: undefined }, { samples: 180, rows: 3, end: at(5, 30) / 1000, p50: undefined }, 'three hour rows, the last ending with its last minute')
    assert.equal(settled.p50, raw?.p50, 'the median of the hours’ digests')

    // A spool delivers 04:30–04:40 late: until it is folded, the hours from 04:00 on are read from the minutes and the unfolded rows.
    await receive(tenMinutes(at(4, 30), probe))
    const unfolded = await read()
    assert.deepEqual({ ...unfolded, p50: undefined }, { samples: 240, rows: 1 + 10 + 1 + 10, end: at(5, 30) / 1000, p50: undefined }, 'the late rows counted once, summed into one row, before their fold')
    await folder.foldDue()
    const folded = await read()
    assert.deepEqual({ ...folded, p50: undefined }, { samples: 240, rows: 3, end: at(5, 30) / 1000, p50: undefined }, 'folded, every whole hour is read from the hour rollup again')
    assert.equal(unfolded.p50, folded.p50, 'the same median from the unfolded rows as from their fold')
  })

  it('folds the hours every few minutes, not at each minute fold, and a short range reads the minutes until then', async () => {
    hourFoldEveryMs = 3_600_000
    const deferring = fold()
    await deferring.prepare()
    const probe = 'pending-probe'
    const counted = (await counts(store)).raw
    await receive([...tenMinutes(at(10), probe), ...tenMinutes(at(11, 20), probe)])
    const first = await deferring.foldDue()
    assert.equal(first.minutes?.rawRows, 120)
    assert.equal(first.hours, null, 'the hours are not due yet')
    const [inHours] = await storeRows<{ samples: number }>(store, `SELECT sum(samples) AS samples FROM catchment.measurements_1h WHERE probe = '${probe}'`)
    assert.equal(inHours?.samples, 0, 'the minutes are folded, the hours not yet')
    const [settled] = await storeRows<{ until: number }>(store, 'SELECT toUnixTimestamp(until) AS until FROM catchment.measurements_1h_settled')
    assert.equal(settled?.until, at(10) / 1000, 'the hours are settled up to the oldest pending minute')

    const read = () => readShortRange(probe, at(9, 30), at(12))
    const beforeHours = await read()
    assert.deepEqual({ ...beforeHours, p50: undefined }, { samples: 120, rows: 20, end: at(11, 30) / 1000, p50: undefined }, 'twenty minute rows, each sample once')

    const second = await deferring.foldDue('now')
    assert.equal(second.hours?.minuteRows, 20, 'the twenty pending minutes folded into the hours')
    const afterHours = await read()
    assert.deepEqual({ ...afterHours, p50: undefined }, { samples: 120, rows: 2, end: at(11, 30) / 1000, p50: undefined }, 'two hour rows now, the last ending with its last minute')
    assert.equal(afterHours.p50, beforeHours.p50, 'the same median from the hours as from the minutes')
    const [left] = await storeRows<{ n: number }>(store, 'SELECT count() AS n FROM catchment.measurements_1m_pending')
    assert.equal(left?.n, 0, 'the folded minutes are no longer pending')
    assertCountedOnce(await counts(store), counted + 120, 'every tier counts every row once')
  })

  it('folds the hours again after a crash in the middle of an hour fold, and counts them once', async () => {
    const deferring = fold()
    await deferring.prepare()
    const counted = (await counts(store)).raw
    await receive(tenMinutes(at(12, 10), 'crash-probe'))
    await deferring.foldDue()
    // The network hour rollup cannot be written: the fold dies after the hour rollup per probe took its rows.
    await store.client('registry').command({ query: 'RENAME TABLE catchment.measurements_1h_net TO catchment.measurements_1h_net_away' })
    await assert.rejects(deferring.foldDue('now'))
    await store.client('registry').command({ query: 'RENAME TABLE catchment.measurements_1h_net_away TO catchment.measurements_1h_net' })
    const [ledger] = await storeRows<{ state: string }>(store, "SELECT state FROM catchment.rollup_hour_folds WHERE collector = 'collector-a' ORDER BY folded_to DESC, state DESC LIMIT 1")
    assert.equal(ledger?.state, 'started', 'the ledger says the fold was cut short')

    const restarted = fold()
    await restarted.prepare()
    const outcome = await restarted.foldDue()
    assert.equal(outcome.hours, null, 'nothing pending after the started fold was run again')
    assertCountedOnce(await counts(store), counted + 60, 'the hour rollup per probe recognised the fold run again, the network one took it once')
  })

  it('goes back to the view: folds what is left, and the view counts from then on', async () => {
    const deferring = fold()
    await deferring.prepare()
    const counted = (await counts(store)).raw
    await receive(tenMinutes(at(7, 35)))
    await deferring.foldDue() // folded into the minutes, pending for the hours
    await receive(tenMinutes(at(7, 40))) // received after the last fold: the collector died
    await restoreMinuteView(store, context, createLogger('silent'))
    assertCountedOnce(await counts(store), counted + 120, 'the rows no fold had reached are folded, and the pending minutes into the hours')
    const views = await storeRows<{ name: string }>(store, "SELECT name FROM system.tables WHERE database = 'catchment' AND name IN ('measurements_1m_mv', 'measurements_1h_mv', 'measurements_1h_net_mv') ORDER BY name")
    assert.deepEqual(views.map(({ name }) => name), ['measurements_1h_mv', 'measurements_1h_net_mv', 'measurements_1m_mv'], 'every view feeds its rollup again')
    await writeRows(store, tenMinutes(at(7, 50)), defaultMetadata)
    assertCountedOnce(await counts(store), counted + 180, 'the views count what arrives next')
  })
})

describe('a store a folding collector from before migration 11 left', () => {
  it('goes back to the view counting every row once, though its hour views still ran', async (t) => {
    const dataDir = tempDir('minute-fold-older')
    const store = await openStore(`chdb://${dataDir}`)
    t.after(async () => {
      await store.close()
      rmSync(dataDir, { recursive: true, force: true })
    })
    const context = { database: 'catchment', retentionDays: 30 }
    await migrate(store, { retentionDays: 30 })
    const clock = new ReceiptClock()
    const older = new MinuteFold({ store, context, collector, clock, oldestUnsettled: () => undefined, hourFoldEveryMs: 0, metrics: createMetrics(), logger: createLogger('silent') })
    await older.prepare()
    // Such a collector dropped the minute view only: its folds went into the minute rollup, and its hour views took them on.
    await restoreHourViews(store, context)
    await writeBatches(store, [rowBatch(tenMinutes(at(9)), defaultMetadata, { firstAttempt: true, receipt: { collector, receivedAt: clock.now() } })])
    await restoreMinuteView(store, context, createLogger('silent'))
    assertCountedOnce(await counts(store), 60, 'folded once into every tier')
  })
})

const adminToken = 'minute-fold-admin-token'

/** The admin API's fold-now, as an operator calls it. */
async function foldNow(target: TestCollector, query = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${target.url}/v1/admin/rollups/fold${query}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

describe('a collector that folds its minutes', () => {
  let collectorUnderTest: TestCollector

  before(async () => {
    collectorUnderTest = await startTestCollector({ name: collector, admin_token: adminToken, rollups: { minute: 'folded', fold_every_s: 1 } })
  })
  after(async () => {
    await collectorUnderTest.stop()
  })

  it('stamps what it receives with its name and folds it within a fold interval', async () => {
    const token = await collectorUnderTest.addProbe('fleet-probe-1')
    const records = tenMinutes(Date.now() - 600_000, 'fleet-probe-1')
    const response = await collectorUnderTest.post(token, ndjson(records))
    assert.equal(response.status, 200)
    const [stamped] = await collectorUnderTest.rows<{ collectors: string[] }>('SELECT groupUniqArray(collector) AS collectors FROM catchment.measurements')
    assert.deepEqual(stamped?.collectors, [collector])
    let metrics = ''
    for (let waited = 0; waited < 10_000 && !/^catchment_rollup_folded_rows_total 60$/m.test(metrics); waited += 100) {
      await sleep(100)
      metrics = await (await fetch(`${collectorUnderTest.url}/metrics`)).text()
    }
    assert.match(metrics, /^catchment_rollup_folded_rows_total 60$/m, 'folded within a few intervals')
    const until = Number(/^catchment_rollup_folded_until_seconds (\S+)$/m.exec(metrics)?.[1])
    assert.ok(until * 1000 > Date.now() - 10_000, 'the metrics say how far the minute rollup reaches')
    const [minutes] = await collectorUnderTest.rows<{ samples: string }>('SELECT sum(samples) AS samples FROM catchment.measurements_1m')
    assert.equal(Number(minutes?.samples), records.length)
  })

  it('folds at once when the operator asks, so a report can count everything received', async () => {
    const token = await collectorUnderTest.addProbe('fleet-probe-2')
    const records = tenMinutes(Date.now() - 600_000, 'fleet-probe-2')
    assert.equal((await collectorUnderTest.post(token, ndjson(records))).status, 200)
    const answer = await foldNow(collectorUnderTest)
    assert.equal(answer.status, 200)
    const [tiers] = await collectorUnderTest.rows<{ minutes: number; hours: number; days: number }>(
      `SELECT (SELECT sum(samples) FROM catchment.measurements_1m WHERE probe = 'fleet-probe-2') AS minutes,
        (SELECT sum(samples) FROM catchment.measurements_1h WHERE probe = 'fleet-probe-2') AS hours,
        (SELECT sum(samples) FROM catchment.measurements_1d WHERE probe = 'fleet-probe-2') AS days`,
    )
    assert.deepEqual(tiers, { minutes: 60, hours: 60, days: 60 }, 'whichever fold took them, the minutes, hours and days hold them when the call returns')
    // The timer's hour fold is not due (every 600 s by default), so this call folded both probes' minutes into the hours.
    const hours = answer.json.hours_folded as { collector: string; minute_rows: number } | null
    assert.equal(hours?.collector, collector)
    assert.ok(hours.minute_rows >= 20, `it says how many minute rows it folded into the hours (${hours.minute_rows})`)
  })

  it('tells an operator who asks for an unknown hour folding what it takes', async () => {
    const answer = await foldNow(collectorUnderTest, '?hours=later')
    assert.equal(answer.status, 400)
    assert.deepEqual(answer.json, { error: 'BAD_REQUEST', message: 'hours must be "now" or "when_due", not "later"' })
  })
})

describe('a collector whose minute view counts every insert', () => {
  it('says there is nothing to fold', async (t) => {
    const viewFed = await startTestCollector({ admin_token: adminToken })
    t.after(() => viewFed.stop())
    const answer = await foldNow(viewFed)
    assert.equal(answer.status, 409)
    assert.equal(answer.json.error, 'NOT_FOLDING')
  })
})
