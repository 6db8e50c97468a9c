/**
 * Where a PoP is, keyed by provider and code. Operators' own entries win
 * (their own anycast network, or a correction); then the provider's list
 * (Fly regions); then, for providers whose codes are IATA airport codes
 * (Cloudflare colos, CloudFront and Fastly POPs, Vercel regions once their
 * digits are dropped), the airport's coordinates. A code none of these know
 * is reported as unknown, never guessed.
 *
 * Airport data: airport-data-js (CC BY 4.0), loaded only when first needed,
 * so the agent never carries it.
 */
import { flyRegions } from './fly-regions.ts'

export interface PopLocation {
  code: string
  provider: string
  lat: number
  lon: number
  city: string
  source: 'config' | 'provider' | 'airport'
}

export interface PopOverride {
  code: string
  lat: number
  lon: number
  city?: string | undefined
  /** Only for this provider's codes (default: any). */
  provider?: string | undefined
}

/** Providers whose PoP codes are IATA airport codes. */
const iataProviders = new Set(['cloudflare', 'cloudfront', 'fastly', 'vercel', 'fly', 'auto'])

interface AirportRecord {
  iata: string
  latitude: number | string
  longitude: number | string
  airport: string
  type: string
}

type AirportModule = { getAirportByIata(code: string): Promise<AirportRecord[]> }

let airports: Promise<AirportModule> | null = null

function loadAirports(): Promise<AirportModule> {
  airports ??= import('airport-data-js').then((module) => ((module as { default?: AirportModule }).default ?? module) as AirportModule)
  return airports
}

export async function airportLocation(code: string): Promise<{ lat: number; lon: number; name: string } | null> {
  if (!/^[a-z]{3}$/i.test(code)) return null
  const found = await (await loadAirports()).getAirportByIata(code.toUpperCase()).catch(() => [])
  // Prefer the airport a PoP would be named after: large, then medium, then any.
  const rank = (type: string) => (type === 'large_airport' ? 0 : type === 'medium_airport' ? 1 : 2)
  const best = [...found].sort((a, b) => rank(a.type) - rank(b.type))[0]
  if (!best) return null
  const lat = Number(best.latitude)
  const lon = Number(best.longitude)
  return Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon, name: best.airport } : null
}

export class PopCatalog {
  constructor(private readonly overrides: readonly PopOverride[] = []) {}

  /** The PoP's location, or null when the code is unknown to every source. */
  async resolve(provider: string, code: string): Promise<PopLocation | null> {
    const lower = code.toLowerCase()
    const override =
      this.overrides.find((entry) => entry.code.toLowerCase() === lower && entry.provider === provider) ??
      this.overrides.find((entry) => entry.code.toLowerCase() === lower && entry.provider === undefined)
    if (override) return { code: lower, provider, lat: override.lat, lon: override.lon, city: override.city ?? '', source: 'config' }

    if (provider === 'fly' || provider === 'auto') {
      const region = flyRegions[lower]
      if (region) return { code: lower, provider, lat: region.lat, lon: region.lon, city: region.city, source: 'provider' }
      if (provider === 'fly') return null // not a Fly region: report it, whatever airport shares the letters
    }
    if (!iataProviders.has(provider)) return null
    const airport = await airportLocation(lower)
    return airport ? { code: lower, provider, lat: airport.lat, lon: airport.lon, city: airport.name, source: 'airport' } : null
  }
}
