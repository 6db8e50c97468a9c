/**
 * Server-reported processing time. Subtracting it from time-to-first-byte
 * separates the network from the server, so a slow origin is not mistaken for
 * a bad route.
 */
import { headerValue, type ResponseHeaders } from './headers.ts'

/**
 * `Server-Timing: edge;dur=3.1, origin;dur=41.5;desc="app"` (W3C Server Timing).
 * Metrics often nest (the edge's time contains the origin's), so summing would
 * double count: the largest duration is the one that covers the others.
 */
export function parseServerTiming(value: string): number | null {
  let largest: number | null = null
  for (const metric of value.split(',')) {
    for (const param of metric.split(';').slice(1)) {
      const [key, raw] = param.split('=', 2)
      if (key?.trim().toLowerCase() !== 'dur' || raw === undefined) continue
      const dur = Number(raw.trim().replace(/^"|"$/g, ''))
      if (Number.isFinite(dur) && dur >= 0 && (largest === null || dur > largest)) largest = dur
    }
  }
  return largest
}

/**
 * Fastly's `X-Timer: S1700000000.123456,VS0,VE12`: VS is when the edge started
 * processing and VE when it finished, both in ms relative to S.
 */
export function parseFastlyTimer(value: string): number | null {
  const start = /(?:^|,)\s*VS(\d+(?:\.\d+)?)/.exec(value)
  const end = /(?:^|,)\s*VE(\d+(?:\.\d+)?)/.exec(value)
  if (!start?.[1] || !end?.[1]) return null
  const ms = Number(end[1]) - Number(start[1])
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

/** Server time from whichever header the response carries; Server-Timing wins. */
export function serverMs(headers: ResponseHeaders): number | null {
  const timing = headerValue(headers, 'server-timing')
  const fromTiming = timing === null ? null : parseServerTiming(timing)
  if (fromTiming !== null) return fromTiming
  const timer = headerValue(headers, 'x-timer')
  return timer === null ? null : parseFastlyTimer(timer)
}
