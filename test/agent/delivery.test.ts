/**
 * The agent tells the collector which batches may be repeats, so that the
 * collector can skip the stored-id lookup for the rest (most of them) and
 * still store a repeat once. Played through a front that can lose an
 * acknowledgement after the collector committed: the one case where the
 * agent resends records that are already stored.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { request } from 'undici'
import { CollectorClient } from '../../probe/agent/collector-client.ts'
import { Sender } from '../../probe/agent/sender.ts'
import { Spool } from '../../probe/agent/spool.ts'
import { startTestCollector, tempDir, type TestCollector } from '../helpers/collector.ts'
import { makeRecord } from '../helpers/records.ts'
import { startServer, type TestServer } from '../helpers/servers.ts'

describe('the agent marks the batches it may have sent before', () => {
  let collector: TestCollector
  let front: TestServer
  const root = tempDir('delivery')
  /** The attempt each POST carried, in order. */
  const attempts: Array<string | undefined> = []
  let loseNextAcknowledgement = false

  before(async () => {
    collector = await startTestCollector()
    front = await startServer((incoming, outgoing) => {
      const chunks: Buffer[] = []
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
      incoming.on('end', () => {
        attempts.push(incoming.headers['x-catchment-attempt'] as string | undefined)
        void forward(incoming, Buffer.concat(chunks)).then(({ status, body }) => {
          // The collector committed; the agent never hears of it.
          const lost = loseNextAcknowledgement
          loseNextAcknowledgement = false
          outgoing.writeHead(lost ? 503 : status, { 'content-type': 'application/json' })
          outgoing.end(lost ? '{"error":"LOST"}' : body)
        })
      })
    })
  })
  after(async () => {
    await front?.close()
    await collector?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  async function forward(incoming: http.IncomingMessage, body: Buffer): Promise<{ status: number; body: string }> {
    const headers = Object.fromEntries(Object.entries(incoming.headers).filter(([name]) => name !== 'host' && name !== 'connection')) as Record<string, string>
    const response = await request(`${collector.url}${incoming.url}`, { method: 'POST', headers, body })
    return { status: response.statusCode, body: await response.body.text() }
  }

  function senderFor(spool: Spool, token: string): Sender {
    return new Sender({
      collector: new CollectorClient(front.url(), token),
      spool,
      logger: pino({ level: 'silent' }),
      maxWaitMs: 10,
      backoffBaseMs: 10,
      backoffMaxMs: 20,
    })
  }

  const lines = (probe: string, count: number) => Array.from({ length: count }, () => JSON.stringify(makeRecord({ probe })))

  async function stored(probe: string): Promise<{ rows: number; samples: number }> {
    const [raw] = await collector.rows<{ n: string }>('SELECT count() AS n FROM catchment.measurements WHERE probe = {probe:String}', { probe })
    const [rollup] = await collector.rows<{ n: string }>('SELECT sum(samples) AS n FROM catchment.measurements_1m WHERE probe = {probe:String}', { probe })
    return { rows: Number(raw?.n), samples: Number(rollup?.n) }
  }

  it('an acknowledgement lost after the commit: the resend says it is a second attempt, and is stored once', async () => {
    const token = await collector.addProbe('lossy-1')
    const spool = await Spool.open(path.join(root, 'lossy'), { maxBytes: 1 << 20 })
    const sender = senderFor(spool, token)
    await spool.append(lines('lossy-1', 12))
    await spool.seal()
    attempts.length = 0

    loseNextAcknowledgement = true
    assert.ok((await sender.deliver(spool.claimNext()!)) > 0, 'no acknowledgement: the agent will retry')
    assert.equal(spool.stats().records, 12, 'the records stay spooled')
    assert.equal(await sender.deliver(spool.claimNext()!), 0)
    assert.equal(spool.stats().records, 0)

    assert.deepEqual(attempts, ['1', '2'])
    assert.deepEqual(await stored('lossy-1'), { rows: 12, samples: 12 })
    await spool.close()
  })

  it('a segment a previous process left in the spool counts as sent before', async () => {
    const token = await collector.addProbe('restart-1')
    const dir = path.join(root, 'restart')
    const previous = await Spool.open(dir, { maxBytes: 1 << 20 })
    const records = lines('restart-1', 5)
    await previous.append(records)
    await previous.close()
    // The previous process posted them, and died before it could forget them.
    const sent = await collector.post(token, `${records.join('\n')}\n`, { 'x-catchment-attempt': '1' })
    assert.equal(sent.status, 200)
    attempts.length = 0

    const spool = await Spool.open(dir, { maxBytes: 1 << 20 })
    assert.equal(await senderFor(spool, token).deliver(spool.claimNext()!), 0)
    assert.deepEqual(attempts, ['2'])
    assert.deepEqual(await stored('restart-1'), { rows: 5, samples: 5 })
    await spool.close()
  })

  it('a first attempt still stores a record it repeats once', async () => {
    const token = await collector.addProbe('first-1')
    const [record] = lines('first-1', 1)
    const response = await collector.post(token, `${record}\n${record}\n`, { 'x-catchment-attempt': '1' })
    assert.deepEqual([response.status, response.json.accepted, response.json.duplicates], [200, 2, 1])
    assert.deepEqual(await stored('first-1'), { rows: 1, samples: 1 })
  })
})
