/**
 * Which PoP answered: every anycast provider stamps it into a response header,
 * each in its own format. A preset knows one provider's header and how to cut
 * the PoP code out of it; `auto` tries them all in a fixed order.
 */
import { headerValue, type ResponseHeaders } from './headers.ts'

export interface PopMatch {
  /** Normalised, lower-case PoP code (`ams`, `fra`). */
  pop: string
  /** The header value it was cut from, kept so a wrong parse can be audited later. */
  raw: string
}

export interface PopExtractor {
  readonly name: string
  extract(headers: ResponseHeaders): PopMatch | null
}

interface Preset {
  header: string
  parse(value: string): string | null
}

/** Codes are short identifiers; anything else means the header was not what we thought. */
function normaliseCode(code: string | undefined | null): string | null {
  if (!code) return null
  const lower = code.trim().toLowerCase()
  return /^[a-z0-9_-]{2,32}$/.test(lower) ? lower : null
}

function suffixAfterLastDash(value: string): string | null {
  const at = value.lastIndexOf('-')
  return at < 0 ? null : normaliseCode(value.slice(at + 1))
}

export const presets: Readonly<Record<string, Preset>> = {
  // fly-request-id: 01h2abcxyz9876-ams
  fly: { header: 'fly-request-id', parse: suffixAfterLastDash },
  // cf-ray: 8c9a1b2c3d4e5f6a-FRA (IATA code of the colo)
  cloudflare: { header: 'cf-ray', parse: suffixAfterLastDash },
  // x-served-by: cache-jfk1041-JFK, cache-ord1720-ORD. With shielding the shield
  // POP comes first and the edge that talked to the client is appended last
  // (Fastly, "Understanding cache HIT and MISS headers with shielded services").
  fastly: {
    header: 'x-served-by',
    parse: (value) => suffixAfterLastDash(value.split(',').at(-1)?.trim() ?? ''),
  },
  // x-amz-cf-pop: FRA56-P5 (first three letters are the IATA code)
  cloudfront: {
    header: 'x-amz-cf-pop',
    parse: (value) => normaliseCode(/^([A-Za-z]{3})\d/.exec(value.trim())?.[1]),
  },
  // x-vercel-id: fra1::iad1::82mqm-1700000000000-abc (edge region first, digits dropped)
  vercel: {
    header: 'x-vercel-id',
    parse: (value) => normaliseCode(/^([A-Za-z]+)\d*::/.exec(value.trim())?.[1]),
  },
  // server: BunnyCDN-DE1-1013 (Bunny's own zone code in the middle)
  bunny: {
    header: 'server',
    parse: (value) => normaliseCode(/^BunnyCDN-([A-Za-z0-9]+)-/i.exec(value.trim())?.[1]),
  },
}

export const presetNames = Object.keys(presets)

function fromPreset(name: string, preset: Preset): PopExtractor {
  return {
    name,
    extract(headers) {
      const raw = headerValue(headers, preset.header)
      if (raw === null) return null
      const pop = preset.parse(raw)
      return pop ? { pop, raw } : null
    },
  }
}

/** Thrown for a `--pop-header`/`--pop` that can never match anything. */
export class PopSpecError extends Error {
  readonly code = 'POP_SPEC'
}

/**
 * `NAME` or `NAME=REGEX`. With a regex the first capture group is the code
 * (the whole match when it has no group); without one the whole value is.
 */
export function customExtractor(spec: string): PopExtractor {
  const eq = spec.indexOf('=')
  const header = (eq < 0 ? spec : spec.slice(0, eq)).trim().toLowerCase()
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header)) {
    throw new PopSpecError(`--pop-header: "${header}" is not a valid header name`)
  }
  let pattern: RegExp | null = null
  if (eq >= 0) {
    try {
      pattern = new RegExp(spec.slice(eq + 1), 'i')
    } catch (error) {
      throw new PopSpecError(`--pop-header: bad regular expression: ${(error as Error).message}`)
    }
  }
  return fromPreset(`header:${header}`, {
    header,
    parse(value) {
      if (!pattern) return normaliseCode(value)
      const match = pattern.exec(value)
      return match ? normaliseCode(match[1] ?? match[0]) : null
    },
  })
}

/** Tries every preset in declaration order; the first that parses wins. */
const autoExtractor: PopExtractor = {
  name: 'auto',
  extract(headers) {
    for (const [name, preset] of Object.entries(presets)) {
      const match = fromPreset(name, preset).extract(headers)
      if (match) return match
    }
    return null
  },
}

/** Resolves `--pop <preset>` and `--pop-header` into one extractor; the custom header wins. */
export function popExtractor(options: { preset?: string; header?: string }): PopExtractor {
  if (options.header) return customExtractor(options.header)
  const name = options.preset ?? 'auto'
  if (name === 'auto') return autoExtractor
  const preset = presets[name]
  if (!preset) {
    throw new PopSpecError(`--pop: unknown preset "${name}" (one of: auto, ${presetNames.join(', ')})`)
  }
  return fromPreset(name, preset)
}
