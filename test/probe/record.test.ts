import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { validateMeasurement } from '../../probe/record.ts'
import { version } from '../../probe/version.ts'
import { validRecord } from '../helpers/records.ts'

describe('the wire record validator', () => {
  it('accepts a record the probe writes', () => {
    assert.deepEqual(validateMeasurement(validRecord), { ok: true, record: validRecord })
  })

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an id that is not a UUIDv7', { id: 'abc' }, /^id: must be a UUIDv7/],
    ['a timestamp without milliseconds', { ts: '2026-11-22T17:54:32Z' }, /^ts:/],
    ['a day the month does not have', { ts: '2026-02-30T12:00:00.000Z' }, /^ts: must be a real date/],
    ['the hour 24', { ts: '2026-11-22T24:00:00.000Z' }, /^ts: must be a real date/],
    ['31 April', { ts: '2026-04-31T12:00:00.000Z' }, /^ts: must be a real date/],
    ['29 February of a year that is not a leap year', { ts: '2100-02-29T12:00:00.000Z' }, /^ts: must be a real date/],
    ['the month 13', { ts: '2026-13-01T12:00:00.000Z' }, /^ts: must be a real date/],
    ['the second 60', { ts: '2026-12-31T23:59:60.000Z' }, /^ts: must be a real date/],
    ['a negative phase', { connect_ms: -1 }, /^connect_ms:/],
    ['a phase given as a string', { ttfb_ms: '20' }, /^ttfb_ms:/],
    ['an unknown error code', { error: 'OOPS' }, /^error:/],
    ['an unknown kind', { kind: 'icmp' }, /^kind:/],
    ['an upper-case PoP code', { pop: 'AMS' }, /^pop:/],
    ['a probe id with a newline', { probe: 'a\nb' }, /^probe:/],
    ['a field the schema does not know', { extra: 1 }, /^record:.*extra/],
  ]
  for (const [what, change, reason] of bad) {
    it(`rejects ${what}, naming the field`, () => {
      const result = validateMeasurement({ ...validRecord, ...change })
      assert.equal(result.ok, false)
      assert.match((result as { reason: string }).reason, reason)
    })
  }

  it('accepts 29 February of a leap year, and the last millisecond of a year', () => {
    for (const ts of ['2028-02-29T12:00:00.000Z', '2000-02-29T00:00:00.000Z', '2026-12-31T23:59:59.999Z']) {
      assert.equal(validateMeasurement({ ...validRecord, ts }).ok, true, ts)
    }
  })

  it('rejects a record with a missing field', () => {
    const { connect_ms: _omitted, ...rest } = validRecord
    const result = validateMeasurement(rest)
    assert.equal(result.ok, false)
    assert.equal((result as { reason: string }).reason, 'connect_ms: missing')
  })

  it('rejects things that are not objects', () => {
    for (const value of [null, 42, 'text', []]) assert.equal(validateMeasurement(value).ok, false)
  })
})

describe('the version the probe reports', () => {
  it('is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    assert.equal(version, pkg.version)
  })
})
