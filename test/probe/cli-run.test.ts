import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { validateMeasurement } from '../../probe/record.ts'
import { csvColumns } from '../../probe/format/csv.ts'
import { runCli } from '../helpers/cli.ts'
import { answerWith, startAlternatingFront, startServer, type TestServer } from '../helpers/servers.ts'

describe('probe run, as an engineer uses it from a laptop', () => {
  let amsEdge: TestServer
  let fraEdge: TestServer
  let front: { port: number; close(): Promise<void> }
  let url: string

  before(async () => {
    amsEdge = await startServer(answerWith({ 'fly-request-id': '01h2abcxyz9876-ams' }))
    fraEdge = await startServer(answerWith({ 'fly-request-id': '01h2abcxyz9877-fra' }))
    // One address, two PoPs answering in turn: a split catchment.
    front = await startAlternatingFront([amsEdge.port, fraEdge.port])
    url = `http://127.0.0.1:${front.port}/`
  })
  after(async () => {
    await front.close()
    await amsEdge.close()
    await fraEdge.close()
  })

  it('--json prints only wire records, one valid record per line', async () => {
    const result = await runCli('probe', ['run', '--json', '-n', '6', '-i', '0', url])
    assert.equal(result.code, 0, result.stderr)
    const lines = result.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 6)
    const records = lines.map((line) => {
      const validated = validateMeasurement(JSON.parse(line))
      assert.ok(validated.ok, line)
      return validated.record
    })
    assert.deepEqual(new Set(records.map((r) => r.pop)), new Set(['ams', 'fra']))
    assert.ok(records.every((r) => r.target === `127.0.0.1:${front.port}` && r.probe === 'local'))
  })

  it('the table shows both PoPs that answered the one target, with their shares', async () => {
    const result = await runCli('probe', ['run', '-n', '10', '-i', '0', '-c', '1', url])
    assert.equal(result.code, 0, result.stderr)
    const [header, ...rows] = result.stdout.trimEnd().split('\n')
    assert.match(header ?? '', /^TARGET\s+POP\s+ADDRESS\s+SAMPLES\s+SHARE\s+CONNECT MIN\s+P50\s+P95\s+TLS P50\s+TTFB P50\s+TOTAL P50\s+ERRORS$/)
    const ams = rows.find((row) => / ams /.test(row))
    const fra = rows.find((row) => / fra /.test(row))
    assert.match(ams ?? '', /127\.0\.0\.1\s+5\s+50%/)
    assert.match(fra ?? '', /127\.0\.0\.1\s+5\s+50%/)
    assert.equal(result.stderr, '', 'no progress line when stderr is not a terminal')
  })

  it('--csv prints a header and one row per sample', async () => {
    const result = await runCli('probe', ['run', '--csv', '-n', '3', '-i', '0', url])
    assert.equal(result.code, 0, result.stderr)
    const lines = result.stdout.trimEnd().split('\n')
    assert.equal(lines[0], csvColumns.join(','))
    assert.equal(lines.length, 4)
  })

  it('exits 2 when every sample failed, and still shows the errors', async () => {
    const closed = await startServer(answerWith({}))
    await closed.close()
    const result = await runCli('probe', ['run', '-n', '3', '-i', '0', `http://127.0.0.1:${closed.port}/`])
    assert.equal(result.code, 2)
    assert.match(result.stdout, /3 ECONNREFUSED/)
  })

  it('exits 0 when one target fails and another answers', async () => {
    const closed = await startServer(answerWith({}))
    await closed.close()
    const result = await runCli('probe', ['run', '-n', '2', '-i', '0', url, `http://127.0.0.1:${closed.port}/`])
    assert.equal(result.code, 0)
  })

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['a count of zero', ['run', '-n', '0', 'example.com'], /--count.*whole number/],
    ['a non-http URL', ['run', 'ftp://example.com/'], /only http:\/\/ and https:\/\//],
    ['an unknown flag', ['run', '--frobnicate', 'example.com'], /unknown option '--frobnicate'/],
    ['an unknown PoP preset', ['run', '--pop', 'akamai', 'example.com'], /Allowed choices are auto, fly/],
    ['a bad --resolve', ['run', '--resolve', 'not-an-ip', 'example.com'], /not an IPv4 or IPv6 address/],
    ['--json with --csv', ['run', '--json', '--csv', 'example.com'], /cannot be used with option '--csv'/],
    ['a bad --pop-header regex', ['run', '--pop-header', 'x-pop=([a-z', 'example.com'], /bad regular expression/],
    ['a missing CA file', ['run', '--cacert', '/nonexistent/ca.pem', 'example.com'], /--cacert: cannot read/],
    ['no URL at all', ['run'], /missing required argument 'url'/],
  ]
  for (const [what, args, message] of usageErrors) {
    it(`exits 1 with one clear message for ${what}`, async () => {
      const result = await runCli('probe', args)
      assert.equal(result.code, 1)
      assert.match(result.stderr, message)
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
      assert.equal(result.stdout, '')
    })
  }

  it('--location adds the nearest PoP and the geographic inflation of each PoP that answered', async () => {
    const result = await runCli('probe', ['run', '-n', '4', '-i', '0', '-c', '1', '--pop', 'fly', '--location', '52.37,4.90', url])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /answered by ams 1 km away; nearest of 35 fly PoPs: ams 1 km; GI 0\.0 ms/)
    assert.match(result.stdout, /answered by fra 364 km away; nearest of 35 fly PoPs: ams 1 km; GI 3\.6 ms/)
    const bad = await runCli('probe', ['run', '--location', 'Amsterdam', url])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /is not LAT,LON/)
  })

  it('--help explains the phases and shows examples', async () => {
    const result = await runCli('probe', ['run', '--help'])
    assert.equal(result.code, 0)
    assert.match(result.stdout, /Examples:/)
    assert.match(result.stdout, /--resolve <address>/)
    assert.match(result.stdout, /connect = TCP handshake/)
  })
})
