/**
 * Order statistics for latency samples. Latency is skewed and heavy-tailed, so
 * summaries are quantiles (and the minimum, the best estimate of path RTT),
 * never means.
 */

/** Linear-interpolated quantile (Hyndman & Fan type 7, as numpy and ClickHouse's quantileExact* family approximate). */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  const low = sorted[lower] as number
  const high = sorted[upper] as number
  return low + (high - low) * (position - lower)
}

/** The non-null values of one field, ascending. */
export function sortedValues<T>(items: readonly T[], pick: (item: T) => number | null): number[] {
  const values: number[] = []
  for (const item of items) {
    const value = pick(item)
    if (value !== null) values.push(value)
  }
  return values.sort((a, b) => a - b)
}
