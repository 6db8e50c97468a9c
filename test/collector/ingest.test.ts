import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { keepAliveMs } from '../../collector/server.ts'
import { makeRecord } from '../helpers/records.ts'
import { gzipSync, ndjson, startTestCollector, type TestCollector } from '../helpers/collector.ts'

describe('a probe streams measurements to the collector', () => {
  let collector: TestCollector
  before(async () => {
    collector = await startTestCollector({
      admin_token: 'admin-token-for-tests-only',
      ingest: { max_body_bytes: 16 * 1024 * 1024, max_line_bytes: 64 * 1024 },
      schedule: {
        targets: [
          { name: 'everyone', url: 'https://anycast.example/' },
          { name: 'ams-only', url: 'https://a.example/', probes: ['ams-1'] },
          { name: 'tagged', url: 'https://b.example/', tags: ['eyeball'], interval_s: 30 },
        ],
      },
    })
  })
  after(() => collector.stop())

  const countFor = async (probe: string) =>
    Number((await collector.rows<{ c: string }>('SELECT count() AS c FROM catchment.measurements WHERE probe = {probe:String}', { probe }))[0]?.c)

  it('stores a batch and joins the probe’s metadata into every row', async () => {
    const token = await collector.addProbe('ams-1', { asn: 1136, isp: 'KPN', country: 'NL', city: 'Amsterdam', lat: 52.37, lon: 4.9 })
    const records = [makeRecord({ probe: 'ams-1', pop: 'ams' }), makeRecord({ probe: 'ams-1', pop: 'fra', connect_ms: 7.125 })]
    const response = await collector.post(token, ndjson(records))
    assert.equal(response.status, 200)
    assert.deepEqual(response.json, { accepted: 2, duplicates: 0, rejected: 0, errors: [] })

    const rows = await collector.rows<Record<string, unknown>>(
      'SELECT toString(id) AS rid, pop, connect_ms, asn, isp, country, city, lat, lon FROM catchment.measurements WHERE probe = {p:String} ORDER BY ts, rid',
      { p: 'ams-1' },
    )
    assert.equal(rows.length, 2)
    const fra = rows.find((row) => row.pop === 'fra')
    assert.deepEqual({ ...fra, rid: undefined, lat: Number(fra?.lat).toFixed(2), lon: Number(fra?.lon).toFixed(1) }, {
      rid: undefined,
      pop: 'fra',
      connect_ms: 7.125,
      asn: 1136,
      isp: 'KPN',
      country: 'NL',
      city: 'Amsterdam',
      lat: '52.37',
      lon: '4.9',
    })
  })

  it('stores every field of a record as it was sent, and NULL where it was null (url and address: empty)', async () => {
    const token = await collector.addProbe('fields-1')
    const full = makeRecord({
      probe: 'fields-1', target: 'svc\\edge', kind: 'http', url: 'https://a.example/p?q=1', address: '2001:db8::1', pop: 'fra', pop_raw: 'fra-1 \\ edge',
      status: 503, error: 'HTTP_5XX', dns_ms: 1.25, connect_ms: 2.5, tls_ms: 3.75, ttfb_ms: 4.125, total_ms: 5.0625, server_ms: 0.5,
    })
    const sparse = makeRecord({
      probe: 'fields-1', kind: 'tcp', url: null, address: null, pop: null, pop_raw: null, status: null, error: 'TIMEOUT',
      dns_ms: null, connect_ms: null, tls_ms: null, ttfb_ms: null, total_ms: null, server_ms: null,
    })
    assert.equal((await collector.post(token, ndjson([full, sparse]))).status, 200)
    const rows = await collector.rows<Record<string, unknown>>(
      `SELECT toString(id) AS id, toUnixTimestamp64Milli(ts) AS ts, probe, target, kind, url, address, pop, pop_raw, status, error,
        dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, server_ms
      FROM catchment.measurements WHERE probe = 'fields-1' ORDER BY kind`,
    )
    assert.deepEqual(
      rows.map((row) => ({ ...row, ts: new Date(Number(row.ts)).toISOString() })),
      [full, { ...sparse, url: '', address: '' }],
    )
  })

  it('stores text exactly, whatever characters it holds', async () => {
    const awkward = 'tab\there, newline\nthere, CR\r, backslash \\ and a literal \\N, NUL \0, "quotes", ünïcode ⟨⟩'
    const token = await collector.addProbe('text-1', { isp: `ISP \\N ${awkward}`, city: '\\' })
    const record = makeRecord({ probe: 'text-1', pop_raw: awkward, url: `https://x.example/${encodeURIComponent(awkward)}`, pop: null, error: null })
    assert.equal((await collector.post(token, ndjson([record]))).status, 200)
    // Resent beside a new record, with the same text: the stored one is cut out of the batch, the new one kept whole.
    const next = { ...makeRecord({ probe: 'text-1' }), pop_raw: awkward }
    assert.equal((await collector.post(token, ndjson([next, record, next]), { 'x-catchment-attempt': '2' })).json.duplicates, 2)
    const rows = await collector.rows<Record<string, unknown>>("SELECT pop_raw, url, pop, isp, city FROM catchment.measurements WHERE probe = 'text-1' ORDER BY url = {url:String}", { url: record.url })
    assert.deepEqual(rows, [
      { pop_raw: awkward, url: next.url, pop: next.pop, isp: `ISP \\N ${awkward}`, city: '\\' },
      { pop_raw: awkward, url: record.url, pop: null, isp: `ISP \\N ${awkward}`, city: '\\' },
    ])
  })

  it('accepts gzip-compressed batches', async () => {
    const token = await collector.addProbe('gzip-1')
    const records = Array.from({ length: 50 }, () => makeRecord({ probe: 'gzip-1' }))
    const response = await collector.post(token, gzipSync(ndjson(records)), { 'content-encoding': 'gzip' })
    assert.equal(response.status, 200)
    assert.equal(response.json.accepted, 50)
    assert.equal(await countFor('gzip-1'), 50)
  })

  it('stores a retried batch once, in the table and in the rollup', async () => {
    const token = await collector.addProbe('retry-1')
    const body = ndjson(Array.from({ length: 20 }, () => makeRecord({ probe: 'retry-1' })))
    const first = await collector.post(token, body)
    const second = await collector.post(token, body)
    assert.deepEqual([first.status, first.json.duplicates], [200, 0])
    assert.deepEqual([second.status, second.json.accepted, second.json.duplicates], [200, 20, 20])
    assert.equal(await countFor('retry-1'), 20)
    const [rollup] = await collector.rows<{ samples: string }>(
      "SELECT sum(samples) AS samples FROM catchment.measurements_1m WHERE probe = 'retry-1'",
    )
    assert.equal(Number(rollup?.samples), 20)
  })

  it('stores a record repeated inside one batch once', async () => {
    const token = await collector.addProbe('repeat-1')
    const record = makeRecord({ probe: 'repeat-1' })
    const response = await collector.post(token, ndjson([record, record, makeRecord({ probe: 'repeat-1' })]))
    assert.equal(response.status, 200)
    assert.equal(await countFor('repeat-1'), 2)
  })

  describe('bad input is refused line by line and never costs the good lines', () => {
    const badLines: Array<[string, (probe: string) => string, RegExp]> = [
      ['malformed JSON', () => '{"id": "01a2', /^not JSON/],
      ['a wrong type', (probe) => JSON.stringify({ ...makeRecord({ probe }), connect_ms: 'fast' }), /^connect_ms:/],
      ['a missing field', (probe) => JSON.stringify({ ...makeRecord({ probe }), ts: undefined }), /^ts: missing/],
      ['a 10 MB line', (probe) => JSON.stringify({ ...makeRecord({ probe }), url: 'x'.repeat(10 * 1024 * 1024) }), /more than the limit of 65536/],
      ['an array instead of an object', () => '[1,2,3]', /^record:/],
      ['a record of another probe', () => JSON.stringify(makeRecord({ probe: 'someone-else' })), /is not the probe this token belongs to/],
      // ClickHouse refuses 30 February: let through, it failed the whole insert, every probe's rows in it.
      ['a day the month does not have', (probe) => JSON.stringify(makeRecord({ probe, ts: '2026-02-30T12:00:00.000Z' })), /^ts: must be a real date/],
      // The TTL would drop it as it is written, after the probe was told it was stored.
      ['a record older than the store keeps', (probe) => JSON.stringify(makeRecord({ probe, ts: new Date(Date.now() - 401 * 86_400_000).toISOString() })), /^ts: older than the 400 days the store keeps/],
      ['a record from a clock a week fast', (probe) => JSON.stringify(makeRecord({ probe, ts: new Date(Date.now() + 7 * 86_400_000).toISOString() })), /^ts: more than a day ahead of the collector's clock/],
    ]
    for (const [what, line, reason] of badLines) {
      it(`${what}: rejected with its line number, the valid lines stored`, async () => {
        const probe = `bad-${what.replace(/\W+/g, '-')}`
        const token = await collector.addProbe(probe)
        const body = [JSON.stringify(makeRecord({ probe })), line(probe), JSON.stringify(makeRecord({ probe }))].join('\n')
        const response = await collector.post(token, body)
        assert.equal(response.status, 200)
        assert.equal(response.json.accepted, 2)
        assert.equal(response.json.rejected, 1)
        const [error] = response.json.errors as Array<{ line: number; reason: string }>
        assert.equal(error?.line, 2)
        assert.match(error?.reason ?? '', reason)
        assert.equal(await countFor(probe), 2)
      })
    }

    it('non-UTF-8 bytes: that line is rejected, the others stored', async () => {
      const token = await collector.addProbe('utf8-1')
      const good = Buffer.from(`${JSON.stringify(makeRecord({ probe: 'utf8-1' }))}\n`)
      const broken = Buffer.concat([Buffer.from('{"target":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n')])
      const response = await collector.post(token, Buffer.concat([good, broken, good.subarray(0, 0), Buffer.from(`${JSON.stringify(makeRecord({ probe: 'utf8-1' }))}\n`)]))
      assert.equal(response.status, 200)
      assert.deepEqual(response.json.errors, [{ line: 2, reason: 'line is not valid UTF-8' }])
      assert.equal(await countFor('utf8-1'), 2)
    })

    it('SQL-looking strings are stored verbatim', async () => {
      const token = await collector.addProbe('sql-1')
      const target = "x'); DROP TABLE catchment.measurements; --"
      const popRaw = "'; SELECT * FROM system.users; \\' {probe:String}"
      const response = await collector.post(token, ndjson([makeRecord({ probe: 'sql-1', target, pop_raw: popRaw })]))
      assert.equal(response.status, 200)
      const rows = await collector.rows<{ target: string; pop_raw: string }>("SELECT target, pop_raw FROM catchment.measurements WHERE probe = 'sql-1'")
      assert.deepEqual(rows, [{ target, pop_raw: popRaw }])
    })

    it('a batch where every line is bad is 422, so the probe does not retry it', async () => {
      const token = await collector.addProbe('all-bad-1')
      const response = await collector.post(token, 'nope\n{}\n')
      assert.equal(response.status, 422)
      assert.equal(response.json.rejected, 2)
    })

    it('an oversized body is 413', async () => {
      const token = await collector.addProbe('big-1')
      const response = await collector.post(token, Buffer.alloc(17 * 1024 * 1024, 0x20))
      assert.equal(response.status, 413)
      assert.equal(response.json.error, 'BODY_TOO_LARGE')
    })

    it('an oversized body sent in chunks, with no length declared, is 413 as soon as it passes the cap', async () => {
      const token = await collector.addProbe('big-chunked-1')
      const megabyte = Buffer.alloc(1024 * 1024, 0x20)
      const response = await collector.post(token, Readable.from((function* () {
        for (let i = 0; i < 17; i++) yield megabyte
      })()))
      assert.equal(response.status, 413)
      assert.equal(response.json.error, 'BODY_TOO_LARGE')
      // The connection's refusal cost nothing else: the next batch is stored.
      const next = await collector.post(token, ndjson([makeRecord({ probe: 'big-chunked-1' })]))
      assert.equal(next.status, 200)
    })

    it('a batch sent in chunks, gzip or not, is stored whole', async () => {
      const token = await collector.addProbe('chunked-1')
      const records = Array.from({ length: 300 }, (_, i) => makeRecord({ probe: 'chunked-1', connect_ms: i }))
      const pieces = (body: Buffer) => Readable.from([body.subarray(0, 1000), body.subarray(1000, 1001), body.subarray(1001)])
      const plain = Buffer.from(ndjson(records.slice(0, 150)))
      assert.equal((await collector.post(token, pieces(plain))).json.accepted, 150)
      const gzipped = gzipSync(ndjson(records.slice(150)))
      assert.equal((await collector.post(token, pieces(gzipped), { 'content-encoding': 'gzip' })).json.accepted, 150)
      assert.equal(await countFor('chunked-1'), 300)
    })

    it('a gzip bomb is 413, measured after decompression', async () => {
      const token = await collector.addProbe('bomb-1')
      const bomb = gzipSync(Buffer.alloc(40 * 1024 * 1024, 0x20))
      assert.ok(bomb.length < 1024 * 1024)
      const response = await collector.post(token, bomb, { 'content-encoding': 'gzip' })
      assert.equal(response.status, 413)
      assert.equal(response.json.error, 'BODY_TOO_LARGE')
    })

    it('a body that claims gzip but is not is 400', async () => {
      const token = await collector.addProbe('badgzip-1')
      const response = await collector.post(token, 'plain text', { 'content-encoding': 'gzip' })
      assert.equal(response.status, 400)
      assert.equal(response.json.error, 'BAD_GZIP')
    })

    it('an unknown, malformed or missing token is 401', async () => {
      const body = ndjson([makeRecord({ probe: 'ams-1' })])
      for (const token of ['ctk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'garbage', '']) {
        const response = await collector.post(token, body)
        assert.equal(response.status, 401, token)
      }
    })

    it('a real selector with a wrong secret is 401', async () => {
      const token = await collector.addProbe('forged-1')
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA')
      assert.equal((await collector.post(forged, ndjson([makeRecord({ probe: 'forged-1' })]))).status, 401)
    })
  })

  describe('the probe’s schedule', () => {
    const schedule = async (token: string, probe: string) => {
      const response = await request(`${collector.url}/v1/probes/${probe}/schedule`, { headers: { authorization: `Bearer ${token}` } })
      return { status: response.statusCode, json: (await response.body.json()) as { targets: Array<{ name: string }> } }
    }

    it('lists the targets meant for this probe, by id and by tag', async () => {
      const plain = await collector.addProbe('sched-plain')
      const tagged = await collector.addProbe('sched-tagged', { tags: ['eyeball'] })
      assert.deepEqual((await schedule(plain, 'sched-plain')).json.targets.map((t) => t.name), ['everyone'])
      const taggedSchedule = await schedule(tagged, 'sched-tagged')
      assert.deepEqual(taggedSchedule.json.targets.map((t) => t.name), ['everyone', 'tagged'])
      assert.deepEqual(taggedSchedule.json.targets[1], {
        name: 'tagged', url: 'https://b.example/', pop: 'auto', interval_s: 30, samples: 1, timeout_ms: 5000,
      })
    })

    it('a probe cannot read another probe’s schedule', async () => {
      const token = await collector.addProbe('sched-nosy')
      assert.equal((await schedule(token, 'sched-plain')).status, 403)
    })
  })

  describe('the admin surface', () => {
    const admin = (method: 'GET' | 'POST', path: string, token: string, body?: unknown) =>
      request(`${collector.url}/v1/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })

    it('is closed to probe tokens', async () => {
      const token = await collector.addProbe('admin-nosy')
      assert.equal((await admin('GET', '/probes', token)).statusCode, 401)
      assert.equal((await admin('POST', '/probes', token, { probe: 'evil' })).statusCode, 401)
      assert.equal((await admin('POST', '/probes/ams-1/revoke', token)).statusCode, 401)
    })

    it('adds a probe whose token works at once, and a revoke shuts it out at once', async () => {
      const added = await admin('POST', '/probes', 'admin-token-for-tests-only', { probe: 'via-api', asn: 3320, country: 'de' })
      assert.equal(added.statusCode, 201)
      const { token, probe } = (await added.body.json()) as { token: string; probe: { country: string } }
      assert.equal(probe.country, 'DE')
      assert.equal((await collector.post(token, ndjson([makeRecord({ probe: 'via-api' })]))).status, 200)

      assert.equal((await admin('POST', '/probes/via-api/revoke', 'admin-token-for-tests-only')).statusCode, 200)
      assert.equal((await collector.post(token, ndjson([makeRecord({ probe: 'via-api' })]))).status, 401)
      assert.equal(await countFor('via-api'), 1, 'its measurements stay')
    })

    it('refuses bad metadata with the field named', async () => {
      const response = await admin('POST', '/probes', 'admin-token-for-tests-only', { probe: 'bad-meta', lat: 123 })
      assert.equal(response.statusCode, 400)
      assert.match(((await response.body.json()) as { message: string }).message, /lat/)
    })
  })

  it('a heartbeat stores the spool figures and updates only the metadata fields the agent sent', async () => {
    const token = await collector.addProbe('beat-1', { asn: 1136, isp: 'KPN', city: 'Amsterdam', country: 'NL', lat: 52.37, lon: 4.9 })
    const beat = (body: Record<string, unknown>) =>
      request(`${collector.url}/v1/probes/beat-1/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ version: '0.1.0', targets: 3, spool_records: 10, spool_bytes: 4096, dropped_total: 7, rejected_total: 0, ...body }),
      })
    assert.equal((await beat({})).statusCode, 200)
    assert.equal((await beat({ metadata: { city: 'Haarlem', lat: 52.38, lon: 4.64 } })).statusCode, 200)
    assert.equal((await beat({ metadata: { city: 'Haarlem', typo: 1 } })).statusCode, 400)
    const [probe] = await collector.rows<{ asn: number; isp: string; city: string }>("SELECT asn, isp, city FROM catchment.probes FINAL WHERE probe = 'beat-1'")
    assert.deepEqual(probe, { asn: 1136, isp: 'KPN', city: 'Haarlem' }, 'fields not sent are kept')
    const [row] = await collector.rows<{ n: string; dropped: string }>("SELECT count() AS n, max(dropped_total) AS dropped FROM catchment.probe_heartbeats WHERE probe = 'beat-1'")
    assert.deepEqual([Number(row?.n), Number(row?.dropped)], [2, 7])
  })

  it('exposes Prometheus metrics: accepted, rejected, queue depth, insert latency', async () => {
    const response = await request(`${collector.url}/metrics`)
    const text = await response.body.text()
    assert.equal(response.statusCode, 200)
    assert.match(text, /catchment_measurements_accepted_total\{kind="new"\} \d+/)
    assert.match(text, /catchment_measurements_rejected_total\{reason="json"\} \d+/)
    assert.match(text, /catchment_ingest_queue_rows 0/)
    assert.match(text, /catchment_insert_duration_seconds_count \d+/)
  })

  it('answers health and readiness', async () => {
    assert.equal((await request(`${collector.url}/healthz`)).statusCode, 200)
    assert.equal((await request(`${collector.url}/readyz`)).statusCode, 200)
  })

  it('keeps an agent’s connection open between its batches, and says so to the agent’s HTTP client', async () => {
    const response = await request(`${collector.url}/healthz`)
    await response.body.dump()
    assert.equal(response.headers.connection, 'keep-alive')
    assert.equal(response.headers['keep-alive'], `timeout=${keepAliveMs / 1000}`)
  })

  it('ingest does not wait behind a long query', async () => {
    const token = await collector.addProbe('busy-1')
    const longQueryStarted = Date.now()
    let longQueryMs = 0
    const longQuery = collector.store
      .client('query')
      .query({ query: 'SELECT sum(sipHash64(number)) AS s FROM numbers(60000000)', format: 'JSONEachRow' })
      .then((result) => result.json())
      .then(() => (longQueryMs = Date.now() - longQueryStarted))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const ingestStarted = Date.now()
    const response = await collector.post(token, ndjson([makeRecord({ probe: 'busy-1' })]))
    const ingestMs = Date.now() - ingestStarted
    assert.equal(response.status, 200)
    await longQuery
    assert.ok(longQueryMs > 1000, `the query should be long enough to matter (${longQueryMs} ms)`)
    assert.ok(ingestMs < longQueryMs / 2, `ingest took ${ingestMs} ms while the query took ${longQueryMs} ms`)
  })
})

describe('a full queue pushes back instead of growing', () => {
  let collector: TestCollector
  before(async () => {
    collector = await startTestCollector({ ingest: { queue_rows: 10, batch_rows: 1000, batch_ms: 1500 } })
  })
  after(() => collector.stop())

  it('answers 429 with Retry-After, and the batch already queued is still stored', async () => {
    const token = await collector.addProbe('flood-1')
    const first = collector.post(token, ndjson(Array.from({ length: 8 }, () => makeRecord({ probe: 'flood-1' }))))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const second = await collector.post(token, ndjson(Array.from({ length: 8 }, () => makeRecord({ probe: 'flood-1' }))))
    assert.equal(second.status, 429)
    assert.ok(Number(second.headers['retry-after']) >= 1)
    assert.equal((await first).status, 200)
    const [row] = await collector.rows<{ c: string }>("SELECT count() AS c FROM catchment.measurements WHERE probe = 'flood-1'")
    assert.equal(Number(row?.c), 8)
  })
})
