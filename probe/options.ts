/**
 * Parsers for command-line values. Each throws commander's InvalidArgumentError,
 * so a bad flag ends in one clear line and exit 1, never a stack trace.
 */
import net from 'node:net'
import { InvalidArgumentError } from 'commander'

export function positiveInt(value: string): number {
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number ≥ 1.')
  return parsed
}

export function nonNegativeInt(value: string): number {
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number ≥ 0.')
  return parsed
}

export function ipAddress(value: string): string {
  const bare = value.replace(/^\[(.*)\]$/, '$1')
  if (!net.isIP(bare)) throw new InvalidArgumentError(`"${value}" is not an IPv4 or IPv6 address.`)
  return bare
}

/**
 * A target URL. A bare host means HTTPS, since that is what an anycast
 * front end serves; anything but http(s) is refused rather than guessed at.
 */
export function targetUrl(value: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`"${value}": only http:// and https:// URLs can be measured.`)
  }
  return url
}

/** `LAT,LON` in decimal degrees, e.g. `52.37,4.90`. */
export function location(value: string): { lat: number; lon: number } {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value)
  const lat = Number(match?.[1])
  const lon = Number(match?.[2])
  if (!match || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
    throw new InvalidArgumentError(`"${value}" is not LAT,LON in degrees (e.g. 52.37,4.90).`)
  }
  return { lat, lon }
}
