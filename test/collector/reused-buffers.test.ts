import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { BodyError, readBody } from '../../collector/ingest/body.ts'
import { RowBatchBuilder, rowBatch } from '../../collector/ingest/rows.ts'
import { writeBatches } from '../../collector/ingest/writer.ts'
import type { Store } from '../../collector/store/client.ts'
import { defaultMetadata } from '../helpers/collector.ts'
import { makeRecord } from '../helpers/records.ts'

const receipt = { collector: 'collector-1', receivedAt: Date.parse('2026-11-22T18:00:00.000Z') }
const records = (count: number, target: string) => Array.from({ length: count }, () => makeRecord({ target }))

/** A store that keeps a copy of what each insert was handed, and fails the inserts it is told to. */
function recordingStore(failing: Set<number> = new Set()) {
  const inserted: Buffer[] = []
  const store = {
    async insertTabSeparated(_role: string, insert: { data: Buffer }) {
      inserted.push(Buffer.from(insert.data))
      if (failing.has(inserted.length)) throw new Error('the store is away')
    },
  } as unknown as Store
  return { store, inserted }
}

/**
 * How many buffers `work` asked Node for (zlib and `Buffer.concat` ask
 * through `Buffer.allocUnsafe` too). Every 32 MB of new buffers costs V8 a
 * young-generation collection, so the ingest path should ask for few.
 */
async function buffersAskedFor(work: () => unknown): Promise<number> {
  const allocUnsafe = Buffer.allocUnsafe
  let asked = 0
  Buffer.allocUnsafe = (size: number) => {
    asked++
    return allocUnsafe(size)
  }
  try {
    await work()
  } finally {
    Buffer.allocUnsafe = allocUnsafe
  }
  return asked
}

describe('the collector reuses its working buffers without mixing one request’s rows into another’s', () => {
  it('two requests read at the same time each keep their own rows', () => {
    const first = records(120, 'first.example')
    const second = records(80, 'second.example')
    const third = records(50, 'third.example')
    const one = new RowBatchBuilder(defaultMetadata, { receipt })
    const two = new RowBatchBuilder(defaultMetadata, { receipt })
    first.slice(0, 60).forEach((record) => one.add(record))
    second.slice(0, 40).forEach((record) => two.add(record))
    first.slice(60).forEach((record) => one.add(record))
    const oneBatch = one.finish()
    // The third request gets the buffer the first gave back, while the second is still reading.
    const three = new RowBatchBuilder(defaultMetadata, { receipt })
    third.forEach((record) => three.add(record))
    second.slice(40).forEach((record) => two.add(record))
    const threeBatch = three.finish()
    const twoBatch = two.finish()
    assert.deepEqual(oneBatch, rowBatch(first, defaultMetadata, { receipt }))
    assert.deepEqual(twoBatch, rowBatch(second, defaultMetadata, { receipt }))
    assert.deepEqual(threeBatch, rowBatch(third, defaultMetadata, { receipt }))
  })

  it('a request read after another finished works in the buffer that one gave back', async () => {
    const earlier = new RowBatchBuilder(defaultMetadata, { receipt })
    records(100, 'a.example').forEach((record) => earlier.add(record))
    earlier.finish()
    assert.equal(await buffersAskedFor(() => new RowBatchBuilder(defaultMetadata, { receipt, sizeHint: 30_000 })), 0)
  })

  it('a finished batch takes no more rows: its buffer may be another request’s by then', () => {
    const builder = new RowBatchBuilder(defaultMetadata, { receipt })
    builder.add(makeRecord())
    builder.finish()
    assert.throws(() => builder.add(makeRecord()), /finished/)
  })

  it('inserts one after another, larger, smaller and after a failed one, each send exactly their rows', async () => {
    const { store, inserted } = recordingStore(new Set([3]))
    const inserts = [
      [rowBatch(records(200, 'a.example'), defaultMetadata, { firstAttempt: true, receipt })],
      [rowBatch(records(20, 'b.example'), defaultMetadata, { firstAttempt: true, receipt }), rowBatch(records(30, 'c.example'), defaultMetadata, { firstAttempt: true, receipt })],
      [rowBatch(records(300, 'd.example'), defaultMetadata, { firstAttempt: true, receipt })],
      [rowBatch(records(10, 'e.example'), defaultMetadata, { firstAttempt: true, receipt })],
    ]
    const asked = await buffersAskedFor(async () => {
      for (const [i, batches] of inserts.entries()) {
        const written = writeBatches(store, batches)
        if (i === 2) await assert.rejects(written, /the store is away/)
        else assert.equal((await written).written, batches.reduce((sum, batch) => sum + batch.ids.length, 0))
      }
    })
    // One for the first insert and one for the larger third; the others fit in a buffer given back.
    assert.equal(asked, 2)
    assert.deepEqual(
      inserted,
      inserts.map((batches) => Buffer.concat(batches.map((batch) => batch.rows))),
    )
  })

  it('a live batch inflates whole, and a gzip trailer that misstates the size is refused', async () => {
    const lines = Buffer.from(records(100, 'my-app.fly.dev').map((record) => `${JSON.stringify(record)}\n`).join(''))
    const wire = gzipSync(lines)
    const post = (body: Buffer) => new Request('http://collector.test/v1/measurements', { method: 'POST', body, headers: { 'content-encoding': 'gzip' } })
    assert.deepEqual(await readBody(post(wire), 1 << 20), lines)
    for (const claimed of [10, lines.length + 1, 0xffff_ffff]) {
      const lying = Buffer.from(wire)
      lying.writeUInt32LE(claimed, lying.length - 4)
      await assert.rejects(readBody(post(lying), 1 << 20), (error: unknown) => error instanceof BodyError && error.code === 'BAD_GZIP')
    }
  })
})
