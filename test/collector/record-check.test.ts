import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileRecordValidator } from '../../collector/ingest/record-check.ts'
import { validateMeasurement } from '../../probe/record.ts'
import { oddValues, seededRandom, validRecord } from '../helpers/records.ts'

const compiled = compileRecordValidator()

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
    const next = seededRandom(42)
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
