/**
 * Distances and the latency they cost. Light in fibre covers about 200 km per
 * millisecond, so a round trip over d km takes at least 2d/200 ms, and real
 * paths rarely beat 3d/200 ms (Katz-Bassett et al., IMC 2006; used by Koch et
 * al., SIGCOMM 2021, for anycast inflation).
 */

export interface Point {
  lat: number
  lon: number
}

/** Mean Earth radius (IUGG), km. */
const earthRadiusKm = 6371.0088

export const fiberKmPerMs = 200

const radians = (degrees: number) => (degrees * Math.PI) / 180

/** Great-circle distance (haversine), km. Exact at the antimeridian and at the poles. */
export function haversineKm(a: Point, b: Point): number {
  const dLat = radians(b.lat - a.lat)
  const dLon = radians(b.lon - a.lon)
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.lat)) * Math.cos(radians(b.lat)) * Math.sin(dLon / 2) ** 2
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** The same formula in ClickHouse SQL, so the store computes exactly what this module does. */
export function haversineSql(lat1: string, lon1: string, lat2: string, lon2: string): string {
  return `(2 * ${earthRadiusKm} * asin(least(1, sqrt(pow(sin(radians(${lat2} - ${lat1}) / 2), 2) + cos(radians(${lat1})) * cos(radians(${lat2})) * pow(sin(radians(${lon2} - ${lon1}) / 2), 2)))))`
}

/**
 * Geographic inflation (Koch et al.): the extra round trip the served PoP
 * costs over the nearest one, at fibre speed: 2·(d_served − d_nearest)/200 ms.
 */
export function geographicInflationMs(servedKm: number, nearestKm: number): number {
  return (2 * (servedKm - nearestKm)) / fiberKmPerMs
}

/** Latency inflation (Koch et al.): RTT above what a good path to the nearest PoP takes, 3·d/200 ms. */
export function latencyInflationMs(rttMs: number, nearestKm: number): number {
  return rttMs - (3 * nearestKm) / fiberKmPerMs
}

export type Severity = 'info' | 'warn' | 'high' | 'severe'

/** Thresholds of DESIGN.md: GI below 4 ms (~400 km) is metro noise. */
export const thresholds = {
  giNoiseMs: 4,
  giWarnMs: 10,
  giHighMs: 20,
  liWarnMs: 30,
  liHighMs: 60,
  liSevereMs: 100,
} as const
