import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CanonicalLineReader } from '../../collector/ingest/canonical-line.ts'
import { parseBatch, storedTimes, type ParseOptions } from '../../collector/ingest/ndjson.ts'
import { compileRecordValidator } from '../../collector/ingest/record-check.ts'
import { RowBatchBuilder } from '../../collector/ingest/rows.ts'
import { metadataTail, tsvRow } from '../../collector/ingest/tsv.ts'
import { measureHttp } from '../../probe/measure/http.ts'
import { popExtractor } from '../../probe/pop.ts'
import type { Measurement } from '../../probe/record.ts'
import { defaultMetadata } from '../helpers/collector.ts'
import { oddValues, seededRandom, validRecord } from '../helpers/records.ts'
import { answerWith, startServer } from '../helpers/servers.ts'

const now = Date.parse('2026-11-22T18:00:00.000Z')
const options: ParseOptions = { maxLineBytes: 65_536, probe: validRecord.probe, validate: compileRecordValidator(), times: storedTimes(400, now) }
const tail = metadataTail(defaultMetadata)
const reader = new CanonicalLineReader({ probe: options.probe, earliest: options.times.earliest, latest: options.times.latest })

/** The fast path's row for a line, or null when it leaves the line to the general path. */
function fastRow(line: string): string | null {
  const bytes = Buffer.from(line)
  const out = Buffer.alloc(bytes.length + Buffer.byteLength(tail))
  if (!reader.read(bytes, 0, bytes.length, out, 0, Buffer.from(tail))) return null
  const { id, ts, target, rowLength } = reader.found
  const row = out.toString('utf8', 0, rowLength)
  assert.deepEqual({ id, ts, target }, { id: row.split('\t')[0], ts: row.split('\t')[1], target: row.split('\t')[3] }, 'the batch keeps the row’s own id, ts and target')
  return row
}

/** The general path's verdict on a line: its row, or the reason it was rejected. */
function generalVerdict(line: string): { row: string } | { reason: string } {
  let row: string | null = null
  const rejected = parseBatch(Buffer.from(line), options, {
    addCanonical: () => false,
    add: (record: Measurement) => {
      row = tsvRow(record, tail)
    },
  })
  return row === null ? { reason: rejected[0]?.reason ?? 'nothing' } : { row }
}

/** What the fast path must never do: take a line the general path refuses, or store it otherwise. */
function assertNoLooser(line: string): boolean {
  const fast = fastRow(line)
  if (fast === null) return false
  assert.deepEqual({ row: fast }, generalVerdict(line), `the fast path took ${line}`)
  return true
}

const lineOf = (record: object) => JSON.stringify(record)

describe('the collector reads a line as the probe writes it straight into its row', () => {
  it('takes the probe’s own lines, and writes each row byte for byte as the general path does', () => {
    const records: Measurement[] = [
      validRecord,
      { ...validRecord, url: null, address: null, pop: null, pop_raw: null, status: null, dns_ms: null, connect_ms: null, tls_ms: null, ttfb_ms: null, total_ms: null },
      { ...validRecord, kind: 'tcp', status: null, error: 'ECONNREFUSED', pop: null, total_ms: 1000.5 },
      { ...validRecord, kind: 'dns', error: 'HTTP_5XX', status: 503, pop: 'us_east-1', server_ms: 0.000001 },
      { ...validRecord, target: 'a', dns_ms: 0, connect_ms: 86_400_000, tls_ms: 123_456.789, ttfb_ms: 0.5, total_ms: 99_999.999 },
      { ...validRecord, target: 't'.repeat(256), url: `https://x/${'y'.repeat(2038)}`, address: 'a'.repeat(64), pop: 'p'.repeat(32), pop_raw: 'r'.repeat(512) },
      { ...validRecord, target: 'my app (staging) #2', url: 'https://my-app.fly.dev/a?b=c&d=%20e#f', pop_raw: 'cache-ams/1 ~ {"x": 1}'.replace(/"/g, "'") },
      { ...validRecord, id: '01A20465-3838-71BE-B5D7-DD7D6F7AE7EC', ts: '2026-10-31T23:59:59.999Z', status: 100 },
      { ...validRecord, ts: options.times.earliest },
      { ...validRecord, ts: options.times.latest, status: 999 },
    ]
    for (const record of records) {
      const line = lineOf(record)
      assert.equal(fastRow(line), tsvRow(record, tail), `taken by the fast path: ${line.slice(0, 200)}`)
    }
  })

  it('takes the lines a probe writes of its real measurements, answered or refused', async () => {
    const server = await startServer(answerWith({ 'fly-request-id': '01h2abcxyz9876-ams' }))
    const refused = await startServer(answerWith({}))
    await refused.close()
    try {
      const times = storedTimes(400)
      const live = new CanonicalLineReader({ probe: 'ams-home-1', earliest: times.earliest, latest: times.latest })
      for (const url of [server.url('/health'), refused.url('/health')]) {
        const record = await measureHttp({ url: new URL(url), target: 'local', probe: 'ams-home-1', pop: popExtractor({}), timeoutMs: 3000 })
        const line = Buffer.from(JSON.stringify(record))
        const out = Buffer.alloc(line.length + Buffer.byteLength(tail))
        assert.ok(live.read(line, 0, line.length, out, 0, Buffer.from(tail)), `the fast path takes ${line}`)
        assert.equal(out.toString('utf8', 0, live.found.rowLength), tsvRow(record, tail))
      }
    } finally {
      await server.close()
    }
  })

  it('leaves to the general path, which words the reason, what it cannot vouch for', () => {
    const leftAlone = [
      lineOf({ ...validRecord, probe: 'someone-else' }),
      lineOf({ ...validRecord, ts: '2020-01-01T00:00:00.000Z' }),
      lineOf({ ...validRecord, ts: '2099-01-01T00:00:00.000Z' }),
      lineOf({ ...validRecord, ts: '2026-02-29T12:00:00.000Z' }),
      lineOf({ ...validRecord, target: 'tab\there' }),
      lineOf({ ...validRecord, pop_raw: 'back\\slash' }),
      lineOf({ ...validRecord, url: 'https://bücher.example/' }),
      lineOf({ ...validRecord, connect_ms: 1e-7 }),
      lineOf({ ...validRecord, connect_ms: -1 }),
      lineOf({ ...validRecord, connect_ms: 86_400_000.5 }),
      lineOf({ ...validRecord, status: 200.5 }),
      lineOf({ ...validRecord, kind: 'icmp' }),
      JSON.stringify(validRecord, null, 1),
      lineOf(Object.fromEntries(Object.entries(validRecord).reverse())),
      lineOf(validRecord).replace('12.345', '12.3450'),
      lineOf(validRecord).replace('12.345', '1.2345e1'),
      lineOf(validRecord).replace('12.345', '0012.345'),
      lineOf(validRecord).replace('"ams"', '"\\u0061ms"'),
      lineOf(validRecord) + ' ',
      lineOf({ ...validRecord, extra: 1 }),
    ]
    for (const line of leftAlone) assert.equal(fastRow(line), null, line)
    assert.deepEqual(generalVerdict(leftAlone[0] as string), { reason: 'probe: "someone-else" is not the probe this token belongs to ("ams-home-1")' })
    assert.deepEqual(generalVerdict(lineOf(validRecord).replace('12.345', '12.3450')), { row: tsvRow(validRecord, tail) }, 'a line in another form is still stored')
  })

  it('never takes a line the general path refuses or stores otherwise: every field given odd values', () => {
    let taken = 0
    const numbers = [0, 1, 0.1, 1e-6, 1.5e-6, 1e-7, 5e-324, 1e21, 123_456_789.5, 86_400_000, 0.30000000000000004, 1234567.890123, -0]
    for (const key of Object.keys(validRecord)) {
      for (const value of [...oddValues, ...numbers]) {
        const record = { ...validRecord, [key]: value }
        if (value === undefined) delete (record as Record<string, unknown>)[key]
        if (assertNoLooser(lineOf(record))) taken++
      }
    }
    assert.ok(taken > 50, `some changed records are still taken (${taken}), so both verdicts are tried`)
  })

  it('never takes a number the general path would store otherwise: phases written by other JSON writers', () => {
    const tokens = ['0', '0.0', '00', '-0', '1', '10', '1.0', '1.50', '0.5', '.5', '5.', '0.000001', '0.0000001', '0.0000015', '1e3', '1E3', '1e-7', '12.345', '86400000', '86400000.0', '86400000.001', '86400001', '123456789012345', '12345.6789012345', '1234.56789012345', '0.123456789012345', '0.1234567890123456', '1.7976931348623157e308', '0x10', 'NaN', 'Infinity', '+1']
    const line = lineOf(validRecord)
    let taken = 0
    for (const token of tokens) if (assertNoLooser(line.replace('"connect_ms":12.345', `"connect_ms":${token}`))) taken++
    assert.equal(taken, 11, 'the ones JavaScript prints as written are taken')
  })

  it('never takes a line the general path refuses or stores otherwise: 20,000 lines with bytes changed', () => {
    const next = seededRandom(7)
    const bases = [
      lineOf(validRecord),
      lineOf({ ...validRecord, url: null, pop: null, error: 'TIMEOUT', status: null, total_ms: 5000.25, server_ms: 3 }),
    ]
    const alphabet = ['"', '\\', ',', ':', '{', '}', '0', '1', '5', '9', '.', '-', 'e', 'E', 'n', 'l', 'a', 'A', 'f', 'T', 'Z', ' ', '\t', '\x7f', '\u00e9']
    let taken = 0
    for (let n = 0; n < 20_000; n++) {
      let line = bases[n % bases.length] as string
      for (let change = 1 + Math.floor(next() * 2); change > 0; change--) {
        const at = Math.floor(next() * line.length)
        const char = alphabet[Math.floor(next() * alphabet.length)] as string
        const how = next()
        if (how < 0.6) line = line.slice(0, at) + char + line.slice(at + 1)
        else if (how < 0.8) line = line.slice(0, at) + line.slice(at + 1)
        else line = line.slice(0, at) + char + line.slice(at)
      }
      if (assertNoLooser(line)) taken++
    }
    assert.ok(taken > 1000, `some changed lines are still taken (${taken}), so both verdicts are tried`)
  })

  it('stores a batch of mixed lines exactly as the general path alone would, rejecting the same lines for the same reasons', () => {
    const lines = [
      lineOf(validRecord),
      lineOf({ ...validRecord, id: '01a20465-3838-71be-a5d7-dd7d6f7ae7ed', target: 'other', ts: '2026-11-22T17:00:00.000Z' }),
      JSON.stringify({ ...validRecord, id: '01a20465-3838-71be-a5d7-dd7d6f7ae7ee' }, null, 2).replace(/\n/g, ''),
      'not json',
      lineOf({ ...validRecord, probe: 'someone-else' }),
      '',
      lineOf({ ...validRecord, id: '01a20465-3838-71be-a5d7-dd7d6f7ae7ef', pop_raw: 'tab\tand\\backslash', ts: '2026-11-22T17:30:00.000Z' }),
      lineOf({ ...validRecord, ts: '2026-02-30T00:00:00.000Z' }),
    ]
    const body = Buffer.from(lines.join('\r\n'))
    const receipt = { collector: 'collector-1', receivedAt: Date.now() }
    const batch = (fastPathOn: boolean) => {
      const builder = new RowBatchBuilder(defaultMetadata, { receipt })
      const sink = fastPathOn ? builder : { addCanonical: () => false, add: (record: Measurement) => builder.add(record) }
      const rejected = parseBatch(body, options, sink)
      return { rejected, ...builder.finish() }
    }
    const both = batch(true)
    assert.deepEqual(both, batch(false))
    assert.deepEqual(both.rejected.map((line) => line.line), [4, 5, 8])
    assert.equal(both.ids.length, 4)
    assert.deepEqual({ from: both.from, to: both.to, targets: both.targets.sort() }, { from: '2026-11-22T17:00:00.000Z', to: validRecord.ts, targets: ['my-app.fly.dev', 'other'] })
  })
})
