/**
 * The on-call's dashboards, run the way Grafana runs them: variables resolved
 * from their own queries, every panel's SQL interpolated and macro-expanded
 * as Grafana and the ClickHouse plugin do it, then executed on the real engine
 * (chDB) against a seeded fleet — once over an hour (minute rollup) and once
 * over a week (hour rollup).
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { catchmentReport } from '../../collector/analysis/catchment.ts'
import { findFindings } from '../../collector/analysis/findings.ts'
import { PopLocationSync } from '../../collector/analysis/pop-sync.ts'
import { writeRows } from '../../collector/ingest/writer.ts'
import { openStore, querySettings } from '../../collector/store/client.ts'
import { ProbeRegistry } from '../../collector/store/probes.ts'
import {
  dailyNetworkRollupTable,
  dailyRollupTable,
  heartbeatsTable,
  hourFoldsTable,
  hourlyRollupTable,
  liveMinutesView,
  measurementsTable,
  networkRollupTable,
  pendingMinutesTable,
  popLocationsTable,
  probesTable,
  rollupFoldsTable,
  rollupTable,
  settledHoursView,
  unfoldedView,
} from '../../collector/store/schema.ts'
import { datasourceUid } from '../../dashboards/src/grafana.ts'
import { dashboards, jsonDir, render } from '../../dashboards/src/build.ts'
import { ndjson, startTestCollector, storeRows, type TestCollector } from '../helpers/collector.ts'
import { applyConditionalAll, interpolate, panelSql, referencedVariables, resolveVariables, type DashboardVariable, type QueryContext } from '../helpers/grafana.ts'
import { makeRecord } from '../helpers/records.ts'
import { seedProbe } from '../helpers/seed.ts'

interface Target {
  refId: string
  datasource: { type: string; uid: string }
  rawSql: string
  format: number
  queryType: string
}
interface Panel {
  id: number
  type: string
  title: string
  datasource: { type: string; uid: string }
  targets: Target[]
  interval?: string
  transformations?: Array<{ id: string; options: Record<string, unknown> }>
}
interface Variable extends DashboardVariable {
  datasource?: { type: string; uid: string }
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating: { list: Variable[] }
}

const dashboardsDir = path.join(jsonDir, '..')
const files = readdirSync(jsonDir).filter((file) => file.endsWith('.json'))
const loaded: Array<[string, Dashboard]> = files.map((file) => [file, JSON.parse(readFileSync(path.join(jsonDir, file), 'utf8')) as Dashboard])

interface Result {
  columns: Array<{ name: string; type: string }>
  rows: unknown[][]
}

interface PluginSession {
  run(sql: string): Promise<Result>
  close(): Promise<void>
}

/** A session of its own on the store, in the datasource's default database, as the plugin's connection is. */
async function pluginSession(storeUrl: string): Promise<PluginSession> {
  const store = await openStore(storeUrl, { roles: ['query'] })
  await store.client('query').command({ query: 'USE catchment' })
  return {
    async run(sql) {
      const result = await store.client('query').query({ query: sql, format: 'JSONCompact', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })
      const body = (await result.json<unknown[]>()) as unknown as { meta: Result['columns']; data: unknown[][] }
      return { columns: body.meta, rows: body.data }
    },
    close: () => store.close(),
  }
}

/** Every table that holds rows, and the plain views over them, that a dashboard could read. */
const storedTables = [
  measurementsTable,
  rollupTable,
  pendingMinutesTable,
  hourlyRollupTable,
  networkRollupTable,
  dailyRollupTable,
  dailyNetworkRollupTable,
  probesTable,
  heartbeatsTable,
  popLocationsTable,
  rollupFoldsTable,
  hourFoldsTable,
]
const plainViews = [liveMinutesView, settledHoursView, unfoldedView]

describe('the dashboards as files', () => {
  /** The ClickHouse user Grafana connects as: its grants and its settings. */
  const grafanaUser = readFileSync(path.join(dashboardsDir, 'clickhouse/grafana-user.sql'), 'utf8')

  it('are the four dashboards, exactly as their sources build them', () => {
    assert.deepEqual(files.sort(), Object.keys(dashboards).sort())
    for (const [file, dashboard] of Object.entries(dashboards)) {
      assert.equal(readFileSync(path.join(jsonDir, file), 'utf8'), render(dashboard), `${file} is stale: run npm run dashboards`)
    }
  })

  it('name only the provisioned datasource, by its uid', () => {
    const provisioned = parseYaml(readFileSync(path.join(dashboardsDir, 'provisioning/datasources/catchment.yaml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string; jsonData: Record<string, unknown>; secureJsonData: Record<string, unknown> }>
    }
    const [source] = provisioned.datasources
    assert.equal(source?.uid, datasourceUid)
    assert.equal(source?.type, 'grafana-clickhouse-datasource')
    for (const key of ['host', 'port', 'protocol', 'defaultDatabase', 'username']) assert.ok(source?.jsonData[key] !== undefined, `jsonData.${key}`)
    assert.equal(source?.jsonData.defaultDatabase, 'catchment')
    assert.ok(source?.secureJsonData.password)
    for (const [file, dashboard] of loaded) {
      for (const panel of dashboard.panels) {
        assert.equal(panel.datasource.uid, datasourceUid, `${file}: ${panel.title}`)
        for (const target of panel.targets) assert.deepEqual(target.datasource, { type: 'grafana-clickhouse-datasource', uid: datasourceUid })
      }
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) assert.equal(variable.datasource?.uid, datasourceUid)
    }
  })

  it('load from the path the dashboards provider names', () => {
    const provider = parseYaml(readFileSync(path.join(dashboardsDir, 'provisioning/dashboards/catchment.yaml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>
    }
    assert.equal(provider.providers[0]?.type, 'file')
    assert.match(provider.providers[0]?.options.path ?? '', /^\/.+/)
  })

  it('use only variables they define, and have unique uids', () => {
    const uids = new Set(loaded.map(([, dashboard]) => dashboard.uid))
    assert.equal(uids.size, loaded.length)
    for (const [file, dashboard] of loaded) {
      const defined = new Set(dashboard.templating.list.map((variable) => variable.name))
      const queries = [
        ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => [panel.title, target.rawSql] as const)),
        ...dashboard.templating.list.map((variable) => [variable.name, typeof variable.query === 'string' ? '' : variable.query.rawSql] as const),
      ]
      for (const [where, sql] of queries) {
        for (const name of referencedVariables(sql)) assert.ok(defined.has(name), `${file}: ${where} uses $${name}, which is not defined`)
      }
    }
  })

  it('read only what the Grafana user is granted, the tables behind the views included', () => {
    const granted = new Set([...grafanaUser.matchAll(/^GRANT SELECT(?:\([^)]*\))? ON catchment\.(\w+) TO/gm)].map((match) => match[1]))
    const context = { database: 'catchment', retentionDays: 400 }
    const names = [...storedTables.map((table) => table.name), ...plainViews.map((view) => view.name)]
    const readBy = (sql: string) => names.filter((name) => new RegExp(`\\b${name}\\b`).test(sql))
    const dashboardsSql = loaded.map(([, dashboard]) => JSON.stringify(dashboard)).join('\n')
    const read = new Set(readBy(dashboardsSql))
    for (const view of plainViews) if (read.has(view.name)) for (const name of readBy(view.select(context))) read.add(name)
    for (const name of read) assert.ok(granted.has(name), `the dashboards read ${name}, which grafana-user.sql does not grant`)
  })

  it('run as the Grafana user with the settings the collector queries with', () => {
    const settings = /^CREATE USER[^;]*\bSETTINGS ([^;]*);/m.exec(grafanaUser)?.[1] ?? ''
    const given = new Map(settings.split(',').map((setting) => setting.split('=').map((part) => part.trim()) as [string, string]))
    for (const [name, value] of Object.entries(querySettings)) assert.equal(given.get(name), String(value), `grafana-user.sql sets ${name}`)
  })
})

describe('the plugin emulation', () => {
  const context: QueryContext = {
    from: new Date(1704067200_000),
    to: new Date(1704153600_000),
    intervalSeconds: 20,
    variables: { service: { value: ['api', 'db'], options: ['api', 'db', 'web'] }, everything: { value: ['$__all'], options: ['a', 'b'] } },
  }

  it('expands the macros to what the plugin sends', () => {
    assert.equal(interpolate('$__timeFilter(ts)', context), 'ts >= toDateTime(1704067200) AND ts <= toDateTime(1704153600)')
    assert.equal(interpolate('$__timeFilter_ms(ts)', context), 'ts >= fromUnixTimestamp64Milli(1704067200000) AND ts <= fromUnixTimestamp64Milli(1704153600000)')
    assert.equal(interpolate('$__timeInterval(ts)', context), 'toStartOfInterval(toDateTime(ts), INTERVAL 20 second)')
    assert.equal(interpolate('$__interval_s $__fromTime $__toTime', context), '20 toDateTime(1704067200) toDateTime(1704153600)')
    assert.throws(() => interpolate('$__nope(x)', context), /no macro/)
  })

  it('keeps a conditionalAll condition for a selection and drops it for All', () => {
    assert.equal(
      interpolate('WHERE $__conditionalAll(s IN (${service}), $service) AND $__conditionalAll(e IN (${everything}), $everything)', context),
      "WHERE s IN ('api','db') AND 1=1",
    )
    assert.equal(applyConditionalAll('$__conditionalAll(f(a, b) = 1, ${service})', context.variables), 'f(a, b) = 1')
  })
})

describe('every panel on real ClickHouse over a seeded fleet', () => {
  let collector: TestCollector
  let session: PluginSession
  const now = Date.now()

  before(async () => {
    collector = await startTestCollector({ schedule: { targets: [{ name: 'fly-app', url: 'https://fly-app.example/', pop: 'fly' }] } })
    const amsterdam = { city: 'Amsterdam', country: 'NL', lat: 52.37, lon: 4.9 }
    const forty = (pop: string) => Array<string>(40).fill(pop)
    for (let i = 0; i < 3; i++) {
      await seedProbe(collector.store, { probe: `kpn-${i}`, target: 'fly-app', asn: 1136, isp: 'KPN', ...amsterdam, pops: forty('ams'), rtts: 2 + i })
      await seedProbe(collector.store, { probe: `ziggo-${i}`, target: 'fly-app', asn: 33915, isp: 'Ziggo', ...amsterdam, pops: forty('mad'), rtts: 30 + i })
    }
    // A Frankfurt probe whose catchment moves from Amsterdam to Frankfurt halfway, and whose target sometimes fails.
    const frankfurt = { probe: 'dtag-0', target: 'fly-app', asn: 3320, isp: 'DTAG', city: 'Frankfurt', country: 'DE', lat: 50.11, lon: 8.68 }
    await seedProbe(collector.store, { ...frankfurt, pops: [...Array<string>(20).fill('ams'), ...Array<string>(20).fill('fra')], rtts: [...Array<number>(20).fill(12), ...Array<number>(20).fill(3)] })
    // A Stockholm probe that moved from Amsterdam to Frankfurt hours ago, its two halves hours apart: at hour
    // granularity the week's view must see that change whatever minute of the hour the test runs at (the
    // Frankfurt probe's change above lies within one clock hour when it runs after hh:39). It measures
    // nothing in the last hour but is alive: it sends heartbeats.
    const stockholm = { probe: 'telia-0', target: 'fly-app', asn: 1299, isp: 'Telia', city: 'Stockholm', country: 'SE', lat: 59.33, lon: 18.07 }
    await seedProbe(collector.store, { ...stockholm, pops: Array<string>(30).fill('ams'), rtts: 25, endsMinutesAgo: 300 })
    await seedProbe(collector.store, { ...stockholm, pops: Array<string>(30).fill('fra'), rtts: 20, endsMinutesAgo: 120 })
    const registry = new ProbeRegistry(collector.store)
    const dtag = await registry.get('dtag-0')
    const failures = ['TIMEOUT', 'TIMEOUT', 'TIMEOUT', 'ECONNREFUSED'].map((error, i) =>
      makeRecord({ probe: 'dtag-0', target: 'fly-app', pop: null, pop_raw: null, status: null, error: error as 'TIMEOUT', connect_ms: null, tls_ms: null, ttfb_ms: null, total_ms: null, ts: new Date(now - i * 60_000).toISOString() }),
    )
    assert.ok(dtag)
    await writeRows(collector.store, failures, dtag)
    // A probe that registered, sent one heartbeat three hours ago, and went quiet.
    await registry.add('quiet-1', { asn: 3320, isp: 'DTAG', country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.4, tags: [] })
    await collector.store.client('registry').insert({
      table: 'catchment.probe_heartbeats',
      values: [
        { ts: new Date(now - 3 * 3_600_000).toISOString(), probe: 'quiet-1', version: '0.1.0', targets: 1, spool_records: 0, spool_bytes: 0, dropped_total: 0, rejected_total: 0 },
        { ts: new Date(now - 60_000).toISOString(), probe: 'kpn-0', version: '0.1.0', targets: 1, spool_records: 12, spool_bytes: 4096, dropped_total: 0, rejected_total: 0 },
        { ts: new Date(now - 60_000).toISOString(), probe: 'telia-0', version: '0.1.0', targets: 1, spool_records: 0, spool_bytes: 0, dropped_total: 0, rejected_total: 0 },
      ],
      format: 'JSONEachRow',
    })
    await new PopLocationSync(collector.store, collector.config).ensureFresh(true)
    session = await pluginSession(collector.config.store)
  })
  after(async () => {
    await session?.close()
    await collector?.stop()
  })

  const run = (sql: string) => session.run(sql)

  it('runs them on a query session without JIT compilation, whose compile once made a query 0.3 s slower', async () => {
    const { rows } = await run(`SELECT ${Object.keys(querySettings).map((name) => `toUInt8(getSetting('${name}'))`).join(', ')}`)
    assert.deepEqual(rows[0], Object.values(querySettings))
  })

  const variablesFor = (dashboard: Dashboard, from: Date, to: Date, chosen: Record<string, string[]> = {}) =>
    resolveVariables(dashboard.templating.list, { from, to }, async (sql) => (await run(sql)).rows, chosen)

  async function runPanel(dashboard: Dashboard, panel: Panel, from: Date, to: Date, variables: QueryContext['variables']): Promise<Result> {
    const sql = panelSql(panel, { from, to }, variables)
    try {
      return await run(sql)
    } catch (error) {
      throw new Error(`${dashboard.title} / ${panel.title}: ${(error as Error).message}\n${sql}`)
    }
  }

  /** The shape each panel type needs from its query. */
  function assertShape(dashboard: Dashboard, panel: Panel, result: Result): void {
    const where = `${dashboard.title} / ${panel.title}`
    const names = result.columns.map((column) => column.name)
    const target = panel.targets[0] as Target
    if (target.format === 0) {
      assert.equal(names[0], 'time', `${where}: a time series starts with its time column`)
      assert.match(result.columns[0]?.type ?? '', /^DateTime/, `${where}: time is a DateTime`)
      const times = result.rows.map((row) => Date.parse(`${String(row[0])}Z`))
      assert.deepEqual(times, [...times].sort((a, b) => a - b), `${where}: rows are in time order`)
      assert.ok(result.columns.slice(1).some((column) => /Int|Float|Decimal/.test(column.type)), `${where}: at least one numeric value column`)
    }
    if (panel.type === 'geomap') {
      for (const column of ['latitude', 'longitude']) assert.match(result.columns.find((c) => c.name === column)?.type ?? '', /Float/, `${where}: ${column}`)
    }
    const organize = panel.transformations?.find((transformation) => transformation.id === 'organize')
    if (organize) assert.deepEqual(names, Object.keys(organize.options.indexByName as object), `${where}: the table's columns`)
    const matrix = panel.transformations?.find((transformation) => transformation.id === 'groupingToMatrix')
    if (matrix) for (const key of ['rowField', 'columnField', 'valueField']) assert.ok(names.includes(matrix.options[key] as string), `${where}: ${key}`)
    const partition = panel.transformations?.find((transformation) => transformation.id === 'partitionByValues')
    if (partition) for (const field of partition.options.fields as string[]) assert.ok(names.includes(field), `${where}: partitioned by ${field}`)
  }

  // Results are kept by `key`: the rollup the range reads, or its own name where two ranges read the same.
  const ranges = [
    { name: 'the last hour (minute rollup)', key: 'measurements_1m_live', hours: 1, rollup: 'measurements_1m_live', step: '60' },
    { name: 'the last six hours (minutes, and the hour rollups for whole hours)', key: 'six hours', hours: 6, rollup: 'measurements_1m_live', step: '60' },
    { name: 'the last week (hour rollups)', key: 'measurements_1h', hours: 24 * 7, rollup: 'measurements_1h', step: '3600' },
  ]
  const results = new Map<string, Result>()

  for (const range of ranges) {
    it(`runs every panel over ${range.name} and returns the shape it needs`, async () => {
      const to = new Date(now + 60_000)
      const from = new Date(now - range.hours * 3_600_000)
      for (const [, dashboard] of loaded) {
        const variables = await variablesFor(dashboard, from, to)
        assert.equal(variables.rollup?.value, range.rollup)
        assert.equal(variables.step?.value, range.step)
        assert.ok((variables.target?.options ?? []).includes('fly-app'))
        for (const panel of dashboard.panels) {
          const result = await runPanel(dashboard, panel, from, to, variables)
          assertShape(dashboard, panel, result)
          assert.ok(result.rows.length > 0, `${dashboard.title} / ${panel.title}: no rows over seeded data`)
          results.set(`${range.key}:${dashboard.uid}:${panel.title}`, result)
        }
      }
    })
  }

  const column = (result: Result | undefined, name: string) => {
    const index = result?.columns.findIndex((c) => c.name === name) ?? -1
    assert.ok(index >= 0, `no column ${name}`)
    return (result?.rows ?? []).map((row) => row[index])
  }

  it('shows Ziggo served from Madrid on the map, KPN from Amsterdam, and the split Frankfurt probe', () => {
    const map = results.get('measurements_1m_live:catchment-overview:Vantage points by the PoP that serves them')
    const served = new Map(column(map, 'probe_name').map((probe, i) => [probe, column(map, 'served_pop')[i]]))
    assert.equal(served.get('ziggo-0'), 'mad')
    assert.equal(served.get('kpn-2'), 'ams')
    const matrix = results.get('measurements_1m_live:catchment-overview:Networks × PoPs: share of samples (%)')
    const dtag = column(matrix, 'network').flatMap((network, i) => (String(network).includes('AS3320') ? [Number(column(matrix, 'share_pct')[i])] : []))
    assert.deepEqual(dtag.sort(), [50, 50], 'half its samples each from ams and fra')
  })

  it('lists the same findings as the API', async () => {
    const from = new Date(now - 3_600_000)
    const api = await findFindings(collector.store, { since: from, minSamples: 10 })
    const panel = results.get('measurements_1m_live:catchment-findings:Current findings')
    assert.deepEqual(column(panel, 'id'), api.map((finding) => finding.id))
    assert.deepEqual(column(panel, 'gi_ms'), api.map((finding) => finding.gi_ms))
    assert.ok(api.some((finding) => finding.asn === 33915 && finding.served_pop === 'mad'))
  })

  it('shows the Frankfurt probe moving from ams to fra, errors by code, and the silent probe', () => {
    const changes = results.get('measurements_1m_live:catchment-findings:Catchment changes')
    assert.deepEqual([column(changes, 'probe')[0], column(changes, 'from_pop')[0], column(changes, 'to_pop')[0]], ['dtag-0', 'ams', 'fra'])
    const weekOfChanges = results.get('measurements_1h:catchment-findings:Networks whose PoP changed')
    const stockholm = column(weekOfChanges, 'network').flatMap((network, i) => (String(network).includes('AS1299') ? [column(weekOfChanges, 'served_by')[i]] : []))
    assert.deepEqual([...new Set(stockholm)], ['ams', 'fra'], 'hour by hour, Stockholm went from ams to fra')
    const errors = results.get('measurements_1m_live:catchment-fleet:Error rate by code')
    assert.deepEqual([...new Set(column(errors, 'code'))].sort(), ['ECONNREFUSED', 'TIMEOUT'])
    const silent = results.get('measurements_1m_live:catchment-fleet:Silent probes')
    assert.deepEqual(column(silent, 'probe_name'), ['quiet-1'])
    assert.ok(Number(column(silent, 'silent_minutes')[0]) >= 179)
    const backlog = results.get('measurements_1m_live:catchment-fleet:Spool backlog')
    assert.deepEqual([...new Set(column(backlog, 'probe_name'))], ['kpn-0'])
  })

  it('counts every sample once in the rate and the heatmap, in either rollup', () => {
    // The last hour holds the 7 probes' 40 samples and the 4 failures; the week adds Stockholm's 60 older ones.
    const expected = [
      { rollup: 'measurements_1m_live', interval: 60, connects: 7 * 40 },
      { rollup: 'measurements_1h', interval: 3600, connects: 7 * 40 + 60 },
    ]
    for (const { rollup, interval, connects } of expected) {
      const rate = results.get(`${rollup}:catchment-fleet:Measurements per second`)
      const samples = column(rate, 'measurements_per_s').reduce<number>((sum, value) => sum + Number(value) * interval, 0)
      assert.ok(Math.abs(samples - (connects + 4)) < 1e-6, `${rollup}: ${samples} samples`)
      const heatmap = results.get(`${rollup}:catchment-latency:Connect time distribution`)
      assert.equal(column(heatmap, 'connects').reduce<number>((sum, value) => sum + Number(value), 0), connects, `${rollup}: every connect in one bucket`)
    }
    // Six hours hold Stockholm's samples too, in hours long past: the summary reads those whole hours from the hour rollup.
    for (const [key, samples] of [['measurements_1m_live', 7 * 40 + 4], ['six hours', 7 * 40 + 4 + 60], ['measurements_1h', 7 * 40 + 4 + 60]] as const) {
      const table = results.get(`${key}:catchment-latency:Per target and PoP`)
      assert.equal(column(table, 'sample_count').reduce<number>((sum, value) => sum + Number(value), 0), samples, `${key}: the per target × PoP table counts every sample once`)
    }
  })

  it('narrows every panel to a chosen network', async () => {
    const [, catchment] = loaded.find(([, dashboard]) => dashboard.uid === 'catchment-overview') as [string, Dashboard]
    const to = new Date(now + 60_000)
    const from = new Date(now - 3_600_000)
    const variables = await variablesFor(catchment, from, to, { asn: ['33915'], target: ['fly-app'] })
    const map = await runPanel(catchment, catchment.panels[0] as Panel, from, to, variables)
    assert.deepEqual(column(map, 'probe_name').sort(), ['ziggo-0', 'ziggo-1', 'ziggo-2'])
  })
})

describe('the panels of a collector that folds its minutes', () => {
  const adminToken = 'dashboards-admin-token-0123456789'
  let collector: TestCollector
  let session: PluginSession
  const now = Date.now()

  before(async () => {
    collector = await startTestCollector({
      name: 'panel-folder',
      admin_token: adminToken,
      rollups: { minute: 'folded', fold_every_s: 3600, hour_fold_every_s: 3600 },
      schedule: { targets: [{ name: 'fly-app', url: 'https://fly-app.example/', pop: 'fly' }] },
      // Declared, so the findings know them before a fold has shown them in the minute rollup.
      pops: [
        { code: 'ams', lat: 52.37, lon: 4.9, targets: ['fly-app'] },
        { code: 'mad', lat: 40.42, lon: -3.7, targets: ['fly-app'] },
      ],
    })
    // Two networks of Amsterdam probes measured every 20 s for five hours, the second sent to Madrid four hours ago (a finding), every seventh sample failing.
    const networks = [
      { asn: 1136, isp: 'KPN', probes: ['kpn-a', 'kpn-b'] },
      { asn: 33915, isp: 'Ziggo', probes: ['ziggo-a'] },
    ]
    for (const network of networks) {
      for (const [p, probe] of network.probes.entries()) {
        const token = await collector.addProbe(probe, { asn: network.asn, isp: network.isp, country: 'NL', city: 'Amsterdam', lat: 52.37, lon: 4.9, tags: [] })
        const records = Array.from({ length: 900 }, (_, i) => {
          const ts = now - (899 - i) * 20_000
          const failed = i % 7 === 0
          return makeRecord({
            probe,
            target: 'fly-app',
            ts: new Date(ts).toISOString(),
            pop: failed ? null : network.asn === 33915 && ts > now - 4 * 3_600_000 ? 'mad' : 'ams',
            status: failed ? null : 200,
            error: failed ? 'TIMEOUT' : null,
            connect_ms: failed ? null : 2 + ((i * (p + 3)) % 17),
            total_ms: failed ? null : 20 + ((i * (p + 5)) % 23),
          })
        })
        assert.equal((await collector.post(token, ndjson(records))).status, 200)
      }
    }
    await new PopLocationSync(collector.store, collector.config).ensureFresh(true)
    session = await pluginSession(collector.config.store)
  })
  after(async () => {
    await session?.close()
    await collector?.stop()
  })

  /** Every panel that reads the unfolded rows itself, run as Grafana runs it over the last hour and the last six hours; floats to nine digits. */
  async function fleetWidePanels(): Promise<Map<string, unknown>> {
    const shown = new Map<string, unknown>()
    for (const hours of [1, 6]) {
      const range = { from: new Date(now - hours * 3_600_000), to: new Date(now + 60_000) }
      for (const [, dashboard] of loaded) {
        const variables = await resolveVariables(dashboard.templating.list, range, async (sql) => (await session.run(sql)).rows)
        for (const panel of dashboard.panels.filter((candidate) => candidate.targets.some((target) => target.rawSql.includes('measurements_unfolded')))) {
          const result = await session.run(panelSql(panel, range, variables))
          // A finding's first_seen comes from the hour rollup's history, which holds only what is folded, and its
          // last_seen is now() while the latest minute runs: the rest must match.
          const kept = result.columns.map((column, i) => (['first_seen', 'last_seen'].includes(column.name) ? -1 : i)).filter((i) => i >= 0)
          const rows = result.rows.map((row) => kept.map((i) => row[i]))
          shown.set(`${dashboard.title} / ${panel.title} (${hours} h)`, JSON.parse(JSON.stringify(rows, (_, value: unknown) => (typeof value === 'number' ? Number(value.toPrecision(9)) : value))))
        }
      }
    }
    return shown
  }

  it('show the same before the rows are folded, once they are in the minutes, and once in the hours', async () => {
    const [pending] = await storeRows<{ n: number }>(collector.store, 'SELECT count() AS n FROM catchment.measurements_unfolded')
    assert.equal(pending?.n, 3 * 900, 'nothing is folded yet')
    const before = await fleetWidePanels()
    const since = new Date(now - 6 * 3_600_000)
    const reportBefore = await catchmentReport(collector.store, { since })
    assert.ok(reportBefore.changes.some((change) => change.to_pop === 'mad'), 'the API sees Ziggo move to Madrid in the unfolded rows alone')
    assert.equal(before.size, 2 * 11, 'the eight panels over network rows, the two whole-range summaries (findings, per target × PoP) and the catchment changes, over two ranges')
    for (const panel of new Set([...before.keys()].map((name) => name.replace(/ \(\d h\)$/, '')))) {
      const shown = [1, 6].map((hours) => (before.get(`${panel} (${hours} h)`) as unknown[]).length)
      assert.ok(shown.some((rows) => rows > 0), `${panel}: rows from the unfolded measurements alone, over one range or the other`)
    }

    const fold = (hours: 'now' | 'when_due') => fetch(`${collector.url}/v1/admin/rollups/fold?hours=${hours}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } })
    const minutesOnly = await fold('when_due')
    assert.equal(minutesOnly.status, 200)
    assert.equal(((await minutesOnly.json()) as { hours_folded: unknown }).hours_folded, null, 'the hours are not due for an hour')
    const [folded] = await storeRows<{ unfolded: number; pending: number }>(
      collector.store,
      'SELECT (SELECT count() FROM catchment.measurements_unfolded) AS unfolded, (SELECT count() FROM catchment.measurements_1m_pending) AS pending',
    )
    assert.equal(folded?.unfolded, 0, 'every row is folded into the minutes')
    assert.ok((folded?.pending ?? 0) > 0, 'and the minutes wait to be folded into the hours')
    const inMinutes = await fleetWidePanels()
    assert.deepEqual(await catchmentReport(collector.store, { since }), reportBefore, '/v1/catchment: the same from the minute rollup as from the unfolded rows')
    for (const [panel, rows] of inMinutes) assert.deepEqual(rows, before.get(panel), `${panel}: the same from the minute rollup as from the unfolded rows`)

    assert.equal((await fold('now')).status, 200)
    const [left] = await storeRows<{ n: number }>(collector.store, 'SELECT count() AS n FROM catchment.measurements_1m_pending')
    assert.equal(left?.n, 0, 'every minute is folded into the hours')
    const inHours = await fleetWidePanels()
    assert.deepEqual(await catchmentReport(collector.store, { since }), reportBefore, '/v1/catchment: the same once the hours hold the minutes')
    for (const [panel, rows] of inHours) assert.deepEqual(rows, before.get(panel), `${panel}: the same once the hours hold the minutes`)
  })
})
