import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pLimit from 'p-limit'
import { pino } from 'pino'
import { Scheduler } from '../../probe/agent/scheduler.ts'
import type { Measurement } from '../../probe/record.ts'
import { targetSchema } from '../../probe/schedule.ts'
import { answerWith, startServer, type TestServer } from '../helpers/servers.ts'
import * as v from 'valibot'

describe('a round of samples', () => {
  let server: TestServer
  before(async () => {
    server = await startServer(answerWith({ 'fly-request-id': '01abc-ams' }))
  })
  after(() => server.close())

  /** Runs one target until its first round is stored, with a resolver that counts its lookups. */
  async function firstRound(target: Record<string, unknown>, answers: Array<string | Error>): Promise<{ records: Measurement[]; lookups: number }> {
    let lookups = 0
    const lookup = async () => {
      const answer = answers[Math.min(lookups++, answers.length - 1)] as string | Error
      if (answer instanceof Error) throw answer
      return answer
    }
    let stored: (records: Measurement[]) => void = () => {}
    const round = new Promise<Measurement[]>((resolve) => (stored = resolve))
    const scheduler = new Scheduler({
      probe: 'test',
      limit: pLimit(4),
      logger: pino({ level: 'silent' }),
      tickMs: 20,
      lookup,
      onRecords: async (records) => stored(records),
    })
    scheduler.apply([v.parse(targetSchema, { name: 'edge', interval_s: 1, pop: 'fly', ...target })])
    const records = await round
    await scheduler.stop()
    return { records, lookups }
  }

  it('a target that does not say how many samples takes one a round, as an HTTP measurement is one request', async () => {
    const { records, lookups } = await firstRound({ url: `http://edge.test:${server.port}/` }, ['127.0.0.1'])
    assert.equal(lookups, 1)
    assert.equal(records.length, 1)
    assert.equal(records[0]?.error, null)
    assert.ok(records[0]?.dns_ms !== null && records[0]?.connect_ms !== null)
  })

  it('resolves once: the first sample times the lookup, the others connect to the address it found', async () => {
    const { records, lookups } = await firstRound({ url: `http://edge.test:${server.port}/`, samples: 3 }, ['127.0.0.1'])
    assert.equal(lookups, 1)
    assert.equal(records.length, 3)
    assert.deepEqual(records.map((record) => record.error), [null, null, null])
    assert.deepEqual(records.map((record) => record.address), ['127.0.0.1', '127.0.0.1', '127.0.0.1'])
    assert.ok(records[0]?.dns_ms !== null, 'the first sample times DNS')
    assert.deepEqual(records.slice(1).map((record) => record.dns_ms), [null, null])
    assert.ok(records.every((record) => record.connect_ms !== null && record.pop === 'ams'), 'every sample makes its own connection')
  })

  it('a sample whose lookup failed leaves the next one to resolve again', async () => {
    const failed = Object.assign(new Error('getaddrinfo EAI_AGAIN edge.test'), { code: 'EAI_AGAIN' })
    const { records, lookups } = await firstRound({ url: `http://edge.test:${server.port}/`, samples: 3 }, [failed, '127.0.0.1'])
    assert.equal(lookups, 2)
    assert.deepEqual(records.map((record) => record.error), ['DNS', null, null])
    assert.deepEqual(records.map((record) => record.dns_ms === null), [true, false, true])
  })

  it('a target pinned to an address (resolve) never looks the name up', async () => {
    const { records, lookups } = await firstRound({ url: `http://edge.test:${server.port}/`, samples: 2, resolve: '127.0.0.1' }, ['192.0.2.1'])
    assert.equal(lookups, 0)
    assert.deepEqual(records.map((record) => record.address), ['127.0.0.1', '127.0.0.1'])
  })
})
