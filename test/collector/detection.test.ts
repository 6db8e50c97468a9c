import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { request } from 'undici'
import { catchmentReport } from '../../collector/analysis/catchment.ts'
import { findFindings, unknownPops, type Finding } from '../../collector/analysis/findings.ts'
import { PopLocationSync } from '../../collector/analysis/pop-sync.ts'
import { PopCatalog } from '../../probe/geo/catalog.ts'
import { geographicInflationMs, haversineKm, haversineSql, latencyInflationMs } from '../../probe/geo/distance.ts'
import { startTestCollector, type TestCollector } from '../helpers/collector.ts'
import { kmEast, seedProbe } from '../helpers/seed.ts'

const minutes = (n: number, pop: string) => Array<string>(n).fill(pop)

describe('distances and inflation', () => {
  it('haversine: known city pairs, the antimeridian, and a pole', () => {
    const amsterdam = { lat: 52.374, lon: 4.89 }
    const frankfurt = { lat: 50.11, lon: 8.682 }
    assert.ok(Math.abs(haversineKm(amsterdam, frankfurt) - 365) < 3)
    // Fiji's two sides of the antimeridian are close, not a world apart.
    assert.ok(Math.abs(haversineKm({ lat: -17.7, lon: 179.5 }, { lat: -17.7, lon: -179.5 }) - 106) < 1)
    assert.ok(Math.abs(haversineKm({ lat: 90, lon: 0 }, { lat: 90, lon: 123 })) < 1e-6)
  })

  it('GI and LI follow the fibre bound', () => {
    assert.equal(geographicInflationMs(1500, 500), 10) // 2·1000/200
    assert.equal(latencyInflationMs(40, 1000), 25) // 40 − 3·1000/200
  })

  it('ClickHouse computes the same distance as JavaScript', async () => {
    const collector = await startTestCollector()
    try {
      const pairs = [
        [52.374, 4.89, 50.11, 8.682],
        [-17.7, 179.5, -17.7, -179.5],
        [35.69, 139.692, -33.869, 151.209],
      ]
      for (const [lat1, lon1, lat2, lon2] of pairs as Array<[number, number, number, number]>) {
        const [row] = await collector.rows<{ km: number }>(`SELECT ${haversineSql(String(lat1), String(lon1), String(lat2), String(lon2))} AS km`)
        assert.ok(Math.abs(Number(row?.km) - haversineKm({ lat: lat1, lon: lon1 }, { lat: lat2, lon: lon2 })) < 1e-6)
      }
    } finally {
      await collector.stop()
    }
  })
})

describe('the PoP catalog', () => {
  const catalog = new PopCatalog([{ code: 'ams1', lat: 52.3, lon: 4.8, city: 'Amsterdam (ours)' }, { code: 'fra', lat: 1, lon: 2, provider: 'bunny' }])

  it('knows Fly regions by city, not by airport', async () => {
    assert.deepEqual(await catalog.resolve('fly', 'iad'), { code: 'iad', provider: 'fly', lat: 39.044, lon: -77.487, city: 'Ashburn', source: 'provider' })
  })
  it('places IATA-coded PoPs (Cloudflare, CloudFront, Fastly) at their airport', async () => {
    const fra = await catalog.resolve('cloudflare', 'FRA')
    assert.equal(fra?.source, 'airport')
    assert.ok(fra && Math.abs(fra.lat - 50.03) < 0.1 && Math.abs(fra.lon - 8.57) < 0.1)
  })
  it('reports unknown codes instead of guessing', async () => {
    assert.equal(await catalog.resolve('cloudflare', 'zzq'), null)
    assert.equal(await catalog.resolve('fly', 'lis'), null, 'an airport, but not a Fly region')
    assert.equal(await catalog.resolve('bunny', 'de1'), null)
  })
  it('lets the operator add and override PoPs', async () => {
    assert.equal((await catalog.resolve('auto', 'ams1'))?.source, 'config')
    assert.deepEqual(await catalog.resolve('bunny', 'fra'), { code: 'fra', provider: 'bunny', lat: 1, lon: 2, city: '', source: 'config' })
    assert.equal((await catalog.resolve('cloudflare', 'fra'))?.source, 'airport', 'the bunny-only override does not apply')
  })
})

describe('findings over constructed measurement sets', () => {
  let collector: TestCollector
  // A line of PoPs along the equator, so every distance is exact: "home" at 0 km.
  const line = (target: string, pops: Record<string, number>) =>
    Object.entries(pops).map(([code, km]) => ({ code, ...kmEast(km), targets: [target] }))

  before(async () => {
    collector = await startTestCollector({
      schedule: { targets: [{ name: 'fly-app', url: 'https://fly-app.example/', pop: 'fly' }] },
      pops: [
        ...line('gi-edge', { home: 0, under: 995, over: 1005 }),
        ...line('li-edge', { home: 0 }),
        ...line('counts', { home: 0, far: 3000 }),
        ...line('solo', { home: 0 }),
        ...line('nearby', { home: 0, next: 50 }),
        ...line('days-ago', { home: 0, far: 3000 }),
        ...line('held', { home: 0, far: 3000 }),
        { code: 'suva', lat: -18.14, lon: 178.44, targets: ['pacific'] },
        { code: 'apia', lat: -13.83, lon: -171.76, targets: ['pacific'] },
        { code: 'akl', lat: -36.85, lon: 174.76, targets: ['pacific'] },
      ],
    })
  })
  after(() => collector.stop())

  async function findings(target: string, severity: Finding['severity'] = 'info', minSamples = 10): Promise<Finding[]> {
    await new PopLocationSync(collector.store, collector.config).ensureFresh(true)
    return findFindings(collector.store, { since: new Date(Date.now() - 3 * 3600_000), target, severity, minSamples })
  }

  it('finds exactly the ISP that is sent to a far PoP, not its neighbour in the same city', async () => {
    for (let i = 0; i < 3; i++) {
      await seedProbe(collector.store, { probe: `kpn-${i}`, target: 'fly-app', asn: 1136, isp: 'KPN', lat: 52.37, lon: 4.9, pops: minutes(12, 'ams'), rtts: 2 + i })
      await seedProbe(collector.store, { probe: `ziggo-${i}`, target: 'fly-app', asn: 33915, isp: 'Ziggo', lat: 52.37, lon: 4.9, pops: minutes(12, 'mad'), rtts: 30 + i })
    }
    const found = await findings('fly-app', 'warn')
    assert.equal(found.length, 1)
    const [ziggo] = found
    assert.equal(ziggo?.asn, 33915)
    assert.equal(ziggo?.kind, 'far_pop')
    assert.equal(ziggo?.served_pop, 'mad')
    assert.equal(ziggo?.nearest_pop, 'ams')
    assert.ok(Math.abs((ziggo?.gi_ms ?? 0) - 14.8) < 0.2, `GI ${ziggo?.gi_ms}`)
    assert.equal(ziggo?.peer_rtt_ms, 2, 'the best a neighbour ASN in Amsterdam gets')
    assert.equal(ziggo?.peer_asn, 1136)
    assert.equal(ziggo?.probes, 3)
    assert.equal(ziggo?.confidence, 'normal')
    assert.match(ziggo?.id ?? '', /^[0-9a-f]{16}$/)
    assert.deepEqual((await findings('fly-app', 'warn')).map((f) => f.id), [ziggo?.id], 'the id is stable')
    assert.ok(Date.parse(ziggo?.first_seen ?? '') <= Date.now() - 10 * 60_000, 'first seen when the run began')
    assert.ok(Date.parse(ziggo?.last_seen ?? '') >= Date.now() - 2 * 60_000)
  })

  it('GI just under 10 ms is info, just over is warn; under 4 ms it is noise', async () => {
    await seedProbe(collector.store, { probe: 'gi-under', target: 'gi-edge', asn: 1, city: 'Under', ...kmEast(0), pops: minutes(10, 'under'), rtts: 20 })
    await seedProbe(collector.store, { probe: 'gi-over', target: 'gi-edge', asn: 2, city: 'Over', ...kmEast(0), pops: minutes(10, 'over'), rtts: 20 })
    const found = await findings('gi-edge')
    const under = found.find((f) => f.asn === 1)
    const over = found.find((f) => f.asn === 2)
    assert.equal(under?.gi_ms, 9.95)
    assert.equal(under?.severity, 'info')
    assert.equal(over?.gi_ms, 10.05)
    assert.equal(over?.severity, 'warn')
    assert.deepEqual((await findings('gi-edge', 'warn')).map((f) => f.asn), [2])

    await seedProbe(collector.store, { probe: 'nearby-1', target: 'nearby', asn: 3, ...kmEast(0), pops: minutes(10, 'next'), rtts: 1 })
    assert.deepEqual(await findings('nearby'), [], 'a PoP 50 km off (GI 0.5 ms) is metro noise')
  })

  it('LI at 29.9 is nothing, 30.1 warn, 60.1 high, 100.1 severe', async () => {
    const cases: Array<[number, number, string | null]> = [
      [10, 29.9, null],
      [11, 30.1, 'warn'],
      [12, 60.1, 'high'],
      [13, 100.1, 'severe'],
    ]
    for (const [asn, rtt] of cases) {
      await seedProbe(collector.store, { probe: `li-${asn}`, target: 'li-edge', asn, city: `City${asn}`, ...kmEast(0), pops: minutes(10, 'home'), rtts: rtt })
    }
    const found = await findings('li-edge')
    for (const [asn, rtt, severity] of cases) {
      const finding = found.find((f) => f.asn === asn)
      if (severity === null) assert.equal(finding, undefined, `LI ${rtt}`)
      else {
        assert.equal(finding?.kind, 'slow_path')
        assert.equal(finding?.severity, severity, `LI ${rtt}`)
        assert.equal(finding?.li_ms, rtt)
      }
    }
  })

  it('needs 10 samples, and says when it rests on fewer than 3 probes', async () => {
    await seedProbe(collector.store, { probe: 'nine', target: 'counts', asn: 20, city: 'Nine', ...kmEast(0), pops: minutes(9, 'far'), rtts: 40 })
    await seedProbe(collector.store, { probe: 'ten', target: 'counts', asn: 21, city: 'Ten', ...kmEast(0), pops: minutes(10, 'far'), rtts: 40 })
    for (const probe of ['three-a', 'three-b', 'three-c']) {
      await seedProbe(collector.store, { probe, target: 'counts', asn: 22, city: 'Three', ...kmEast(0), pops: minutes(4, 'far'), rtts: 40 })
    }
    const found = await findings('counts')
    assert.equal(found.find((f) => f.asn === 20), undefined, '9 samples are not enough')
    assert.equal(found.find((f) => f.asn === 21)?.confidence, 'low')
    assert.equal(found.find((f) => f.asn === 22)?.confidence, 'normal')
    assert.equal(found.find((f) => f.asn === 22)?.probes, 3)
  })

  it('the RTT is the one to the PoP that served the group, not the best to any PoP it touched', async () => {
    const pops = [...minutes(12, 'far'), 'home', 'home', 'home']
    const rtts = pops.map((pop) => (pop === 'far' ? 40 : 1))
    await seedProbe(collector.store, { probe: 'mixed-1', target: 'counts', asn: 23, city: 'Mixed', ...kmEast(0), pops, rtts })
    const mixed = (await findings('counts')).find((f) => f.asn === 23)
    assert.equal(mixed?.served_pop, 'far')
    assert.equal(mixed?.rtt_ms, 40)
  })

  it('the median RTT is over the group\'s samples to the served PoP, however they fall on its probes', async () => {
    // One probe with 20 samples at 40…59 ms, one with 10 at 100 ms; a few answers from the
    // near PoP do not count. The 30 samples' median is 54.5 ms (the two probes' medians
    // would give 74.75).
    const steady = minutes(20, 'far')
    await seedProbe(collector.store, { probe: 'median-a', target: 'counts', asn: 24, city: 'Median', ...kmEast(0), pops: [...steady, 'home', 'home'], rtts: [...steady.map((_, i) => 40 + i), 1, 1] })
    await seedProbe(collector.store, { probe: 'median-b', target: 'counts', asn: 24, city: 'Median', ...kmEast(0), pops: minutes(10, 'far'), rtts: 100 })
    const median = (await findings('counts')).find((f) => f.asn === 24)
    assert.equal(median?.served_pop, 'far')
    assert.equal(median?.rtt_ms, 40)
    assert.ok(Math.abs((median?.rtt_p50_ms ?? 0) - 54.5) <= 1, `median ${median?.rtt_p50_ms}`)
  })

  it('a target with one PoP has no geographic inflation to find', async () => {
    await seedProbe(collector.store, { probe: 'solo-1', target: 'solo', asn: 30, ...kmEast(500), pops: minutes(10, 'home'), rtts: 7 })
    const found = await findings('solo')
    assert.deepEqual(found, [], 'nearest is the served PoP, and 7 ms over 500 km is no slow path')
  })

  it('an unknown PoP code is reported, and gives no GI', async () => {
    await seedProbe(collector.store, { probe: 'odd-1', target: 'fly-app', asn: 64512, city: 'Odd', lat: 52.37, lon: 4.9, pops: minutes(10, 'zzz'), rtts: 3 })
    assert.equal((await findings('fly-app')).find((f) => f.asn === 64512), undefined)
    const unknown = await unknownPops(collector.store, new Date(Date.now() - 3600_000), 'fly-app')
    assert.deepEqual(unknown, [{ target: 'fly-app', pop: 'zzz', samples: 10 }])
  })

  it('across the antimeridian, the near PoP is the one on the other side of it', async () => {
    // A probe in Fiji (178.4°E) served from Apia (171.8°W, 1 150 km) while Suva is next door.
    await seedProbe(collector.store, { probe: 'fiji-1', target: 'pacific', asn: 40, city: 'Suva', lat: -18.14, lon: 178.44, pops: minutes(10, 'apia'), rtts: 20 })
    const [fiji] = await findings('pacific')
    assert.equal(fiji?.nearest_pop, 'suva')
    assert.ok(Math.abs((fiji?.served_km ?? 0) - 1150) < 30, `served ${fiji?.served_km} km`)
    assert.ok(Math.abs((fiji?.gi_ms ?? 0) - 11.5) < 0.3, `GI ${fiji?.gi_ms}`)
  })

  it('over a window of days, counts every sample once and knows when the data stopped', async () => {
    // 50 hours of one sample a minute that stopped 30 hours ago: a 4-day window reads
    // its partial first day from hours and its full days from the day rollup.
    const stoppedMinutesAgo = 30 * 60
    for (let i = 0; i < 3; i++) {
      await seedProbe(collector.store, { probe: `days-${i}`, target: 'days-ago', asn: 64777, lat: 0, lon: 0, pops: minutes(50 * 60, 'far'), rtts: 32, endsMinutesAgo: stoppedMinutesAgo })
    }
    await new PopLocationSync(collector.store, collector.config).ensureFresh(true)
    const [finding, ...more] = await findFindings(collector.store, { since: new Date(Date.now() - 4 * 86_400_000), target: 'days-ago' })
    assert.equal(more.length, 0)
    assert.equal(finding?.kind, 'far_pop')
    assert.equal(finding?.samples, 3 * 50 * 60, 'every sample once, whichever rollup it was read from')
    assert.equal(finding?.probes, 3)
    assert.equal(finding?.rtt_p50_ms, 32, 'the median, from the network rollups over days')
    const lastSample = Date.now() - stoppedMinutesAgo * 60_000
    const endOfItsHour = Math.floor(lastSample / 3_600_000) * 3_600_000 + 3_600_000
    assert.equal(Date.parse(finding?.last_seen ?? ''), endOfItsHour, 'last seen at the end of the hour the data stopped in, not of its day')
  })

  it('says how long a finding has held: from the first bad hour after the last clean one, before the window', async () => {
    // Six hours: two served by the near PoP, then four by the far one. The last hour alone is judged.
    for (let i = 0; i < 3; i++) {
      await seedProbe(collector.store, { probe: `held-${i}`, target: 'held', asn: 64778, lat: 0, lon: 0, pops: [...minutes(120, 'home'), ...minutes(240, 'far')], rtts: 32 })
    }
    await new PopLocationSync(collector.store, collector.config).ensureFresh(true)
    const now = Date.now()
    const [finding] = await findFindings(collector.store, { since: new Date(now - 3_600_000), target: 'held' })
    assert.equal(finding?.kind, 'far_pop')
    const startOfHour = (at: number) => Math.floor(at / 3_600_000) * 3_600_000
    // The hour the far PoP took over in goes to whichever PoP answered more of its minutes.
    const farSince = startOfHour(now - 239 * 60_000)
    const firstSeen = Date.parse(finding?.first_seen ?? '')
    assert.ok(firstSeen === farSince || firstSeen === farSince + 3_600_000, `first seen ${finding?.first_seen}, when the far PoP took over (${new Date(farSince).toISOString()}), not when the window began nor before the clean hours`)
  })

  it('GET /v1/findings answers the same as a JSON API, and refuses bad parameters', async () => {
    const response = await request(`${collector.url}/v1/findings?since=3h&target=fly-app`)
    const body = (await response.body.json()) as { findings: Finding[]; unknown_pops: unknown[] }
    assert.equal(response.statusCode, 200)
    assert.deepEqual(body.findings.map((f) => f.asn), [33915])
    assert.equal(body.unknown_pops.length, 1)
    assert.equal((await request(`${collector.url}/v1/findings?severity=awful`)).statusCode, 400)
    assert.equal((await request(`${collector.url}/v1/findings?since=yesterday`)).statusCode, 400)
  })
})

describe('catchment changes, flapping and path changes', () => {
  let collector: TestCollector
  before(async () => {
    collector = await startTestCollector()
  })
  after(() => collector.stop())

  it('tells a lasting switch from flapping, and an RTT shift from both', async () => {
    const base = { target: 'moves', asn: 5, lat: 52.37, lon: 4.9 }
    await seedProbe(collector.store, { ...base, probe: 'changer', pops: [...minutes(30, 'ams'), ...minutes(30, 'fra')], rtts: 5 })
    await seedProbe(collector.store, { ...base, probe: 'flapper', pops: Array.from({ length: 60 }, (_, i) => (i % 2 ? 'ams' : 'fra')), rtts: 5 })
    await seedProbe(collector.store, { ...base, probe: 'shifter', pops: minutes(60, 'ams'), rtts: Array.from({ length: 60 }, (_, i) => (i < 30 ? 5 : 25)) })
    await seedProbe(collector.store, { ...base, probe: 'steady', pops: minutes(60, 'ams'), rtts: 5 })
    await seedProbe(collector.store, { ...base, probe: 'blip', pops: [...minutes(30, 'ams'), ...minutes(3, 'fra'), ...minutes(27, 'ams')], rtts: 5 })
    // The same blip placed so that it leaves at hh:58 and comes back at hh:01, across a clock hour's end.
    const hourStart = Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000
    const straddlerEnd = hourStart + 28 * 60_000
    await seedProbe(collector.store, {
      ...base,
      probe: 'straddler',
      pops: [...minutes(30, 'ams'), ...minutes(3, 'fra'), ...minutes(27, 'ams')],
      rtts: 5,
      endsMinutesAgo: (Date.now() - straddlerEnd) / 60_000,
    })

    const report = await catchmentReport(collector.store, { since: new Date(Date.now() - 4 * 3600_000), target: 'moves', minRunMinutes: 10 })
    assert.deepEqual(
      report.changes.map((c) => [c.probe, c.from_pop, c.to_pop, c.from_minutes, c.to_minutes]),
      [['changer', 'ams', 'fra', 30, 30]],
      'only the lasting switch; a 3-minute blip is not a catchment change',
    )
    // Away and back within the hour is alternation too (DESIGN: ≥ 2 PoPs alternating within an hour), whatever the clock says.
    assert.deepEqual([...new Set(report.flaps.map((f) => f.probe))].sort(), ['blip', 'flapper', 'straddler'])
    assert.ok(report.flaps.every((f) => f.switches >= 2 && f.pops.join() === 'ams,fra'))
    assert.ok(report.flaps.filter((f) => f.probe === 'flapper').reduce((sum, f) => sum + f.switches, 0) >= 50)
    assert.deepEqual(report.path_changes.map((p) => [p.probe, p.pop, p.rtt_before_ms, p.rtt_after_ms]), [['shifter', 'ams', 5, 25]])
    const changer = report.probes.find((p) => p.probe === 'changer')
    assert.deepEqual([changer?.pop, changer?.pops], ['fra', { ams: 30, fra: 30 }])
  })

  it('judges a minute on all its samples, however many inserts they arrived in', async () => {
    // Merges would hide the case: the minute's rows stay in separate parts, as they are before a merge.
    await collector.store.client('query').command({ query: 'SYSTEM STOP MERGES catchment.measurements_1m' })
    // Mid-minute, so the three writes below put their samples in the same minutes.
    const anchor = Math.floor(Date.now() / 60_000) * 60_000 + 30_000
    const split = { target: 'split', asn: 6, lat: 52.37, lon: 4.9, probe: 'split-1', rtts: 5, endsMinutesAgo: (Date.now() - anchor) / 60_000 }
    await seedProbe(collector.store, { ...split, pops: minutes(60, 'ams') })
    // The last 30 minutes also answered twice from fra, in two more inserts: fra has most of their samples.
    await seedProbe(collector.store, { ...split, pops: minutes(30, 'fra'), endsMinutesAgo: (Date.now() - anchor) / 60_000 })
    await seedProbe(collector.store, { ...split, pops: minutes(30, 'fra'), endsMinutesAgo: (Date.now() - anchor) / 60_000 })
    try {
      const report = await catchmentReport(collector.store, { since: new Date(Date.now() - 2 * 3600_000), target: 'split', minRunMinutes: 10 })
      assert.deepEqual(report.changes.map((c) => [c.probe, c.from_pop, c.to_pop, c.from_minutes, c.to_minutes]), [['split-1', 'ams', 'fra', 30, 30]])
    } finally {
      await collector.store.client('query').command({ query: 'SYSTEM START MERGES catchment.measurements_1m' })
    }
  })

  it('gives a minute that two PoPs answered equally to the one first by name, even when its rows came the other way', async () => {
    const anchor = Math.floor(Date.now() / 60_000) * 60_000 + 30_000
    const tied = { target: 'tied', asn: 7, lat: 52.37, lon: 4.9, probe: 'tied-1', rtts: 5, endsMinutesAgo: (Date.now() - anchor) / 60_000 }
    await seedProbe(collector.store, { ...tied, pops: minutes(60, 'fra') })
    // The last 30 minutes answered once more, from ams, written after fra's: one sample each.
    await seedProbe(collector.store, { ...tied, pops: minutes(30, 'ams'), endsMinutesAgo: (Date.now() - anchor) / 60_000 })
    const report = await catchmentReport(collector.store, { since: new Date(Date.now() - 2 * 3600_000), target: 'tied', minRunMinutes: 10 })
    assert.deepEqual(report.changes.map((c) => [c.probe, c.from_pop, c.to_pop, c.from_minutes, c.to_minutes]), [['tied-1', 'fra', 'ams', 30, 30]])
    assert.deepEqual([report.probes[0]?.pop, report.probes[0]?.pops], ['ams', { ams: 30, fra: 60 }])
  })

  it('GET /v1/catchment returns the report', async () => {
    const response = await request(`${collector.url}/v1/catchment?target=moves&since=2h&min_run=10m`)
    const body = (await response.body.json()) as { changes: unknown[] }
    assert.equal(response.statusCode, 200)
    assert.equal(body.changes.length, 1)
  })
})
