import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { BodyError, readBody } from '../../collector/ingest/body.ts'

/** A POST as any fetch-style server would hand it over: a web Request, no Node request beside it. */
const post = (body: Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request('http://collector.test/v1/measurements', { method: 'POST', body, headers, duplex: 'half' } as RequestInit)

const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => null, (caught: unknown) => caught)
  assert.ok(error instanceof BodyError, `expected a BodyError, got ${String(error)}`)
  return { status: error.status, code: error.code }
}

describe('a batch body read from a web Request (no Node request under it)', () => {
  const lines = Buffer.from('{"a":1}\n'.repeat(20_000))

  it('reads it plain, and gzip small (inflated in place) or large (on the thread pool)', async () => {
    assert.deepEqual(await readBody(post(lines), 1 << 20), lines)
    assert.deepEqual(await readBody(post(gzipSync(lines), { 'content-encoding': 'gzip' }), 1 << 20), lines)
    const noisy = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `{"n":${Math.sin(i)}}\n`).join(''))
    const large = gzipSync(noisy)
    assert.ok(large.length > 64 * 1024, `the large body is ${large.length} bytes on the wire`)
    assert.deepEqual(await readBody(post(large, { 'content-encoding': 'gzip' }), 1 << 20), noisy)
  })

  it('takes a small gzip body that inflates to megabytes, within the cap, whole', async () => {
    const repetitive = Buffer.from('{"a":1}\n'.repeat(500_000))
    const wire = gzipSync(repetitive)
    assert.ok(wire.length < 64 * 1024 && repetitive.length > 2 * 1024 * 1024, `${wire.length} bytes on the wire, ${repetitive.length} inflated`)
    assert.deepEqual(await readBody(post(wire, { 'content-encoding': 'gzip' }), 8 << 20), repetitive)
    assert.deepEqual(await rejection(readBody(post(wire, { 'content-encoding': 'gzip' }), repetitive.length - 1)), { status: 413, code: 'BODY_TOO_LARGE' })
  })

  it('refuses a body past the cap, before inflating (streamed, no length declared) and after', async () => {
    const stream = Readable.toWeb(Readable.from([lines, lines])) as ReadableStream<Uint8Array>
    assert.deepEqual(await rejection(readBody(post(stream), lines.length)), { status: 413, code: 'BODY_TOO_LARGE' })
    assert.deepEqual(await rejection(readBody(post(gzipSync(lines), { 'content-encoding': 'gzip' }), lines.length - 1)), { status: 413, code: 'BODY_TOO_LARGE' })
  })

  it('refuses what is not gzip, or another encoding', async () => {
    assert.deepEqual(await rejection(readBody(post(lines, { 'content-encoding': 'gzip' }), 1 << 20)), { status: 400, code: 'BAD_GZIP' })
    assert.deepEqual(await rejection(readBody(post(lines, { 'content-encoding': 'br' }), 1 << 20)), { status: 415, code: 'UNSUPPORTED_ENCODING' })
  })
})
