import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileRecordValidator } from '../../collector/ingest/record-check.ts'
import { validateMeasurement } from '../../probe/record.ts'
import { validRecord } from '../helpers/records.ts'

const compiled = compileRecordValidator()

/** Values a field might be given by a buggy or hostile sender. */
const oddValues: unknown[] = [
  null,
  undefined,
  '',
  'x',
  'AMS',
  'ams',
  'a\nb',
  'tab\there',
  'del\x7f',
  'next-line\x85',
  'ünïcode ⟨⟩',
  // 129 characters that JavaScript counts as 258: over a 128 limit for valibot, under it for code points.
  '😀'.repeat(129),
  '😀'.repeat(64),
  'x'.repeat(2049),
  'x'.repeat(65),
  '01a20465-3838-71be-a5d7-dd7d6f7ae7ec',
  '01A20465-3838-71BE-A5D7-DD7D6F7AE7EC',
  '01a20465-3838-41be-a5d7-dd7d6f7ae7ec',
  '2026-11-22T17:54:32.120Z',
  '2026-02-30T12:00:00.000Z',
  '2024-02-29T12:00:00.000Z',
  '2026-11-22T24:00:00.000Z',
  '2026-11-22T17:54:32Z',
  'http',
  'icmp',
  'TIMEOUT',
  'OOPS',
  0,
  -1,
  99,
  100,
  200,
  200.5,
  999,
  1000,
  12.345,
  86_400_000,
  86_400_001,
  true,
  [],
  {},
]

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

describe('the collector’s compiled record check', () => {
  it('passes what the wire record’s validator passes, and words a refusal the same', () => {
    const keys = Object.keys(validRecord)
    for (const key of keys) {
      for (const value of oddValues) {
        const record = { ...validRecord, [key]: value }
        if (value === undefined) delete (record as Record<string, unknown>)[key]
        assert.deepEqual(compiled(record), validateMeasurement(record), `${key} = ${JSON.stringify(value)}`)
      }
    }
  })

  it('never accepts what the validator refuses, over 5,000 records with several fields changed at once', () => {
    const next = random(42)
    const keys = [...Object.keys(validRecord), 'extra']
    let accepted = 0
    for (let n = 0; n < 5000; n++) {
      const record: Record<string, unknown> = { ...validRecord }
      const changes = 1 + Math.floor(next() * 3)
      for (let c = 0; c < changes; c++) {
        const key = keys[Math.floor(next() * keys.length)] as string
        const value = oddValues[Math.floor(next() * oddValues.length)]
        if (value === undefined) delete record[key]
        else record[key] = value
      }
      const verdict = compiled(record)
      assert.deepEqual(verdict, validateMeasurement(record), JSON.stringify(record))
      if (verdict.ok) accepted++
    }
    assert.ok(accepted > 200, `some of the changed records are still valid (${accepted}), so both ways are tried`)
  })

  it('refuses what is not a record at all, with the validator’s reason', () => {
    for (const value of [null, 42, 'text', [], [validRecord]]) assert.deepEqual(compiled(value), validateMeasurement(value))
  })
})
