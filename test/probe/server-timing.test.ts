import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseFastlyTimer, parseServerTiming, serverMs } from '../../probe/server-timing.ts'

describe('server-reported processing time', () => {
  it('Server-Timing: the largest duration covers the nested ones', () => {
    assert.equal(parseServerTiming('edge;dur=3.1, origin;dur=41.5;desc="app"'), 41.5)
    assert.equal(parseServerTiming('cfL4;desc="?proto=TCP&rtt=1234", cfRequestDuration;dur=12.25'), 12.25)
  })

  it('Server-Timing without durations says nothing', () => {
    assert.equal(parseServerTiming('miss, db;desc="cold"'), null)
    assert.equal(parseServerTiming('app;dur=abc'), null)
  })

  it('Fastly X-Timer: VE − VS', () => {
    assert.equal(parseFastlyTimer('S1700000000.123456,VS0,VE12'), 12)
    assert.equal(parseFastlyTimer('S1700000000.123456,VS3,VE10'), 7)
    assert.equal(parseFastlyTimer('S1700000000.123456'), null)
  })

  it('Server-Timing wins when a response carries both', () => {
    assert.equal(serverMs({ 'server-timing': 'total;dur=5', 'x-timer': 'S1,VS0,VE12' }), 5)
    assert.equal(serverMs({ 'x-timer': 'S1,VS0,VE12' }), 12)
    assert.equal(serverMs({}), null)
  })
})
