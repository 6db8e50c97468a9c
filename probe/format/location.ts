/**
 * `probe run --location LAT,LON`: for the laptop, how far the PoP that
 * answered is, how far the nearest one is, and the geographic inflation the
 * difference costs. The candidate PoPs are the provider's whole list where
 * the catalog has one (Fly), else the PoPs seen in this run: the line says
 * which, so a short list is not mistaken for the provider's footprint.
 */
import { PopCatalog, type PopLocation } from '../geo/catalog.ts'
import { flyRegions } from '../geo/fly-regions.ts'
import { geographicInflationMs, haversineKm, type Point } from '../geo/distance.ts'
import type { SummaryRow } from '../summary.ts'

export interface LocationLine {
  target: string
  pop: string
  servedKm: number | null
  nearest: { pop: string; km: number } | null
  candidates: number
  candidateSource: string
  giMs: number | null
}

export async function locate(rows: readonly SummaryRow[], here: Point, provider: string): Promise<LocationLine[]> {
  const catalog = new PopCatalog()
  const lines: LocationLine[] = []
  for (const target of new Set(rows.map((row) => row.target))) {
    const observed = rows.filter((row) => row.target === target && row.pop !== null).map((row) => row.pop as string)
    const fullList = provider === 'fly' ? Object.keys(flyRegions) : null
    const codes = [...new Set([...(fullList ?? []), ...observed])]
    const located = (await Promise.all(codes.map((code) => catalog.resolve(provider, code)))).filter((l): l is PopLocation => l !== null)
    const withKm = located.map((location) => ({ pop: location.code, km: haversineKm(here, location) }))
    const nearest = withKm.reduce<{ pop: string; km: number } | null>((best, next) => (best === null || next.km < best.km ? next : best), null)
    for (const pop of observed) {
      const servedKm = withKm.find((entry) => entry.pop === pop)?.km ?? null
      lines.push({
        target,
        pop,
        servedKm,
        nearest,
        candidates: withKm.length,
        candidateSource: fullList ? `${provider} PoPs` : 'PoPs seen in this run',
        giMs: servedKm !== null && nearest ? Math.max(0, geographicInflationMs(servedKm, nearest.km)) : null,
      })
    }
  }
  return lines
}

export function renderLocation(lines: readonly LocationLine[], here: Point): string {
  return lines
    .map((line) => {
      const served = line.servedKm === null ? `${line.pop} (location unknown)` : `${line.pop} ${line.servedKm.toFixed(0)} km away`
      const nearest = line.nearest ? `nearest of ${line.candidates} ${line.candidateSource}: ${line.nearest.pop} ${line.nearest.km.toFixed(0)} km` : 'nearest unknown'
      const gi = line.giMs === null ? 'GI unknown' : `GI ${line.giMs.toFixed(1)} ms`
      return `from ${here.lat.toFixed(3)},${here.lon.toFixed(3)}: ${line.target} answered by ${served}; ${nearest}; ${gi}`
    })
    .join('\n')
    .concat(lines.length > 0 ? '\n' : '')
}
