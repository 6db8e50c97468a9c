import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { IngestQueue, type QueueOptions } from '../../collector/ingest/queue.ts'
import type { RowBatch } from '../../collector/ingest/rows.ts'
import type { WriteResult } from '../../collector/ingest/writer.ts'

/** A batch of `rows` made-up ids from one probe; only ids, firstAttempt and when it was received matter to the queue. */
function batch(name: string, rows: number, firstAttempt = true, receivedAt = 0): RowBatch {
  const ids = Array.from({ length: rows }, (_, i) => `${name}-${i}`)
  return { rows: Buffer.from(ids.map((id) => `${id}\n`).join('')), ids, probe: 'p', targets: ['t'], from: '', to: '', firstAttempt, receivedAt }
}

/**
 * A store whose inserts end only when the test says so, recording what each
 * one held. Once released (after the test, pass or fail), every insert ends,
 * so a failed test cannot leave the queue waiting for ever.
 */
function heldStore(t: TestContext) {
  const writes: Array<{ names: string[]; finish(): void }> = []
  let released = false
  const write: QueueOptions['write'] = (batches) =>
    new Promise<WriteResult>((resolve) => {
      const names = batches.map((b) => b.ids[0]?.split('-')[0] ?? '')
      const finish = () => resolve({ stored: batches.map((b) => b.ids.length), written: 0 })
      writes.push({ names, finish })
      if (released) finish()
    })
  /** Ends every insert begun so far. */
  const finishAll = () => {
    for (const held of writes) held.finish()
  }
  t.after(() => {
    released = true
    finishAll()
  })
  /** What each insert begun so far held, by batch name. */
  const started = () => writes.map((w) => w.names)
  return { writes, write, started, finishAll }
}

/** A queue with two writers over the held store; the timer is long unless the test is about it. */
function twoWriterQueue(store: { write: QueueOptions['write'] }, batchRows: number, batchMs = 10_000): IngestQueue {
  return new IngestQueue({ maxRows: 100, batchRows, batchMs, writers: 2, write: store.write })
}

/** Lets the queue's timers and promise callbacks run. */
const settle = () => sleep(20)

describe('the ingest queue writes side by side, and never at the cost of a retry', () => {
  it('runs two full inserts at once when it has two writers', async (t) => {
    const store = heldStore(t)
    const queue = twoWriterQueue(store, 2)
    const first = queue.submit(batch('a', 2))
    const second = queue.submit(batch('b', 2))
    const third = queue.submit(batch('c', 2))
    await settle()
    assert.deepEqual(store.started(), [['a'], ['b']], 'a third insert waits for a writer')
    store.writes[0]?.finish()
    assert.deepEqual(await first, { stored: 2, duplicates: 0 })
    await settle()
    assert.deepEqual(store.started(), [['a'], ['b'], ['c']])
    store.finishAll()
    await Promise.all([second, third])
  })

  it('holds a resent batch until every insert begun before it has ended, so its lookup sees them', async (t) => {
    const store = heldStore(t)
    const queue = twoWriterQueue(store, 2)
    const original = queue.submit(batch('a', 2))
    await settle()
    const resent = queue.submit(batch('a', 2, false))
    const fresh = queue.submit(batch('f', 2))
    await settle()
    assert.deepEqual(store.started(), [['a']], 'neither the resent batch nor what queued behind it starts')
    store.writes[0]?.finish()
    await original
    await settle()
    assert.deepEqual(store.started(), [['a'], ['a'], ['f']], 'the resent batch goes once the original is committed')
    store.finishAll()
    await Promise.all([resent, fresh])
  })

  it('lets a partial batch wait for company: for the timer when idle, for the running insert beside one', async (t) => {
    const store = heldStore(t)
    const queue = twoWriterQueue(store, 10, 150)
    const lone = queue.submit(batch('a', 1))
    await settle()
    assert.equal(store.writes.length, 0, 'one row waits for more to arrive')
    await sleep(200)
    assert.deepEqual(store.started(), [['a']], 'until it is due')
    const late = queue.submit(batch('b', 1))
    await sleep(250)
    assert.equal(store.writes.length, 1, 'beside a running insert, a second one for one row is not worth it, even when due')
    store.writes[0]?.finish()
    await lone
    await settle()
    assert.deepEqual(store.started(), [['a'], ['b']], 'it goes when the running insert ends')
    store.writes[1]?.finish()
    await late
  })

  it('tells the minute fold the oldest row it holds, written or waiting, until that row is committed', async (t) => {
    const store = heldStore(t)
    const queue = twoWriterQueue(store, 2)
    assert.equal(queue.oldestReceipt, undefined, 'an empty queue holds nothing back')
    const first = queue.submit(batch('a', 2, true, 1_000))
    const second = queue.submit(batch('b', 2, true, 2_000))
    const third = queue.submit(batch('c', 2, true, 3_000))
    await settle()
    assert.equal(queue.oldestReceipt, 1_000, 'two inserts run, one waits: the oldest running one counts')
    store.writes[0]?.finish()
    await first
    await settle()
    assert.equal(queue.oldestReceipt, 2_000, 'committed rows no longer hold the fold back')
    store.finishAll()
    await Promise.all([second, third])
    await settle()
    store.finishAll()
    await settle()
    assert.equal(queue.oldestReceipt, undefined)
  })

  it('keeps a failed insert’s rows in the fold’s way while a server may still commit them', async () => {
    let now = 50_000
    let failNext = true
    const queue = new IngestQueue({
      maxRows: 100,
      batchRows: 2,
      batchMs: 10,
      inDoubtMs: 600_000,
      now: () => now,
      write: async (batches) => {
        if (failNext) {
          failNext = false
          throw new Error('request timed out')
        }
        return { stored: batches.map((b) => b.ids.length), written: 0 }
      },
    })
    await assert.rejects(queue.submit(batch('a', 2, true, 1_000)), /timed out/)
    // The agent resends later; meanwhile newer rows come and are committed.
    await queue.submit(batch('b', 2, true, 2_000))
    await settle()
    assert.equal(queue.oldestReceipt, 1_000, 'the failed rows may still land: the fold must not pass them')
    now += 599_000
    assert.equal(queue.oldestReceipt, 1_000, 'still within the time a server may take')
    now += 2_000
    assert.equal(queue.oldestReceipt, undefined, 'past it, nothing is held back')

    const embedded = new IngestQueue({ maxRows: 100, batchRows: 2, batchMs: 10, write: () => Promise.reject(new Error('insert failed')) })
    await assert.rejects(embedded.submit(batch('c', 2, true, 3_000)), /insert failed/)
    await settle()
    assert.equal(embedded.oldestReceipt, undefined, 'an embedded store reports a failure after whatever it committed is there: nothing to wait for')
  })

  it('drains everything accepted before shutting down', async () => {
    const written: string[] = []
    const queue = new IngestQueue({
      maxRows: 100,
      batchRows: 3,
      batchMs: 10_000,
      writers: 2,
      write: async (batches) => {
        await sleep(10)
        written.push(...batches.flatMap((b) => b.ids))
        return { stored: batches.map((b) => b.ids.length), written: 0 }
      },
    })
    const accepted = [queue.submit(batch('a', 2)), queue.submit(batch('b', 2, false)), queue.submit(batch('c', 1))]
    await queue.drain()
    await Promise.all(accepted)
    assert.deepEqual(written.sort(), ['a-0', 'a-1', 'b-0', 'b-1', 'c-0'])
    await assert.rejects(queue.submit(batch('d', 1)), { code: 'QUEUE_CLOSED' })
  })
})
