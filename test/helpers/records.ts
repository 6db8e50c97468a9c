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

/** Values a field might be given by a buggy or hostile sender. */
export const oddValues: unknown[] = [
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
export function seededRandom(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}
