/** `--since 1h` / `?since=2026-01-01T00:00:00Z`: a duration back from now, or an instant. */
export class SinceError extends Error {
  readonly code = 'BAD_SINCE'
}

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

export function parseSince(value: string, now = Date.now()): Date {
  const duration = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim())
  if (duration) return new Date(now - Number(duration[1]) * (units[duration[2] as string] as number))
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const instant = Date.parse(value)
    if (!Number.isNaN(instant)) return new Date(instant)
  }
  throw new SinceError(`since: "${value}" is neither a duration (30m, 1h, 7d) nor an ISO-8601 time`)
}

export function parseMinutes(value: string): number {
  const duration = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim())
  if (!duration) throw new SinceError(`"${value}" is not a duration (5m, 1h)`)
  return Math.max(1, Math.round((Number(duration[1]) * (units[duration[2] as string] as number)) / 60_000))
}
