/** Wire records for tests: one that validates, and variations of it. */
import { v7 as uuidv7 } from 'uuid'
import type { Measurement } from '../../probe/record.ts'

export const validRecord: Measurement = {
  id: '01a20465-3838-71be-a5d7-dd7d6f7ae7ec',
  ts: '2026-11-22T17:54:32.120Z',
  probe: 'ams-home-1',
  target: 'my-app.fly.dev',
  kind: 'http',
  url: 'https://my-app.fly.dev/',
  address: '66.241.124.1',
  pop: 'ams',
  pop_raw: '01h2abcxyz9876-ams',
  status: 200,
  error: null,
  dns_ms: 1.5,
  connect_ms: 12.345,
  tls_ms: 14.2,
  ttfb_ms: 20.1,
  total_ms: 50.9,
  server_ms: null,
}

/** A valid record with a fresh id, changed as the test needs. */
export function makeRecord(overrides: Partial<Measurement> = {}): Measurement {
  return { ...validRecord, id: uuidv7(), ts: new Date().toISOString(), ...overrides }
}
