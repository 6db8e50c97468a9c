import assert from 'node:assert/strict'
import { appendFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { interpret } from '../../probe/agent/sender.ts'
import { Spool } from '../../probe/agent/spool.ts'
import { tempDir } from '../helpers/collector.ts'

const line = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(100) })

describe('the spool keeps records on disk until they are acknowledged', () => {
  const root = tempDir('spool')
  after(() => rmSync(root, { recursive: true, force: true }))

  it('hands out sealed segments oldest first and forgets them only when acknowledged', async () => {
    const spool = await Spool.open(path.join(root, 'a'), { maxBytes: 1 << 20 })
    await spool.append([line(1), line(2)])
    await spool.seal()
    await spool.append([line(3)])
    await spool.seal()
    const first = spool.claimNext()
    assert.deepEqual(await spool.read(first!), [line(1), line(2)])
    const second = spool.claimNext()
    assert.deepEqual(await spool.read(second!), [line(3)], 'the one in flight is not handed out twice')
    assert.equal(spool.claimNext(), null)
    spool.release(second!)
    assert.equal(spool.stats().records, 3)
    await spool.acknowledge(first!)
    assert.equal(spool.stats().records, 1)
    assert.equal(spool.claimNext()?.records, 1, 'a released segment is sent again')
    await spool.close()
  })

  it('a restart resumes what was spooled, and skips a line torn by a crash', async () => {
    const dir = path.join(root, 'b')
    const before = await Spool.open(dir, { maxBytes: 1 << 20 })
    await before.append([line(1), line(2)])
    await before.close()
    const [segment] = readdirSync(dir).filter((name) => name.endsWith('.ndjson'))
    appendFileSync(path.join(dir, segment!), '{"n": 3, "pad": "xx') // the crash

    const after = await Spool.open(dir, { maxBytes: 1 << 20 })
    assert.equal(after.stats().records, 2)
    const resumed = after.claimNext()
    assert.deepEqual(await after.read(resumed!), [line(1), line(2)])
    await after.close()
  })

  it('past its bound it drops the oldest segments and counts them, across restarts', async () => {
    const dir = path.join(root, 'c')
    const drops: number[] = []
    const spool = await Spool.open(dir, { maxBytes: 4096, onDrop: (records) => drops.push(records) })
    for (let i = 0; i < 100; i++) await spool.append([line(i)])
    assert.ok(spool.stats().bytes <= 4096 + 200, `bounded: ${spool.stats().bytes} bytes`)
    assert.ok(spool.droppedTotal > 0)
    assert.equal(drops.reduce((a, b) => a + b, 0), spool.droppedTotal)
    assert.equal(spool.droppedTotal + spool.stats().records, 100, 'every record is kept or counted')
    const oldest = spool.claimNext()
    const kept = (await spool.read(oldest!)).map((text) => (JSON.parse(text) as { n: number }).n)
    assert.ok(kept[0]! > 0, 'the oldest went first')
    const dropped = spool.droppedTotal
    await spool.close()
    const reopened = await Spool.open(dir, { maxBytes: 4096 })
    assert.equal(reopened.droppedTotal, dropped)
    await reopened.close()
  })

  it('a segment being sent is not dropped under the sender', async () => {
    const spool = await Spool.open(path.join(root, 'd'), { maxBytes: 4096 })
    await spool.append([line(0)])
    await spool.seal()
    const sending = spool.claimNext()!
    for (let i = 1; i < 60; i++) await spool.append([line(i)])
    assert.deepEqual(await spool.read(sending), [line(0)])
    await spool.close()
  })
})

describe('what the agent does with each collector answer', () => {
  it('200: acknowledged, the rejected lines counted', () => {
    assert.deepEqual(interpret(200, { accepted: 3, rejected: 1, errors: [{ line: 2 }] }, undefined), { kind: 'acknowledged', rejected: 1, reasons: [{ line: 2 }] })
  })
  it('422 and other 4xx: refused for good, never retried forever', () => {
    assert.equal(interpret(422, { rejected: 5 }, undefined).kind, 'refused')
    assert.equal(interpret(413, { message: 'too large' }, undefined).kind, 'refused')
  })
  it('429 and 503: retry after what Retry-After says', () => {
    assert.deepEqual(interpret(429, {}, '7'), { kind: 'retry', afterMs: 7000, reason: 'collector answered 429' })
    assert.deepEqual(interpret(503, {}, undefined), { kind: 'retry', afterMs: null, reason: 'collector answered 503' })
  })
  it('401: keep the records, the token may be fixed', () => {
    assert.equal(interpret(401, { message: 'unknown or revoked token' }, undefined).kind, 'unauthorized')
  })
  it('500 and 408: retry with backoff', () => {
    assert.equal(interpret(500, {}, undefined).kind, 'retry')
    assert.equal(interpret(408, {}, undefined).kind, 'retry')
  })
})
