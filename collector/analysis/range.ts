/**
 * The rows a whole-range summary reads. Over a short range that is the
 * minute rollup. Over a week or more it is the hour rollup for the partial
 * days at either end and the day rollup for the full days between: the
 * same sums and the same t-digests, merged from ~7 day rows and ≤ 48 hour
 * rows per group instead of 168 hour rows. Merging digests row by row is
 * what such summaries spend their time on, so this is what keeps a week
 * at 100M measurements under a second (test/bench/queries.ts).
 */

export interface RangeTiers {
  /** The rollup the range calls for: minutes for short ranges, hours for long ones. */
  rollup: string
  /** The day rollup of the same kind (per probe or per network). */
  days: string
  /** A SQL boolean: true when `rollup` is the hour rollup, so whole days may come from `days`. */
  hourly: string
  /** Seconds one row of `rollup` covers (a SQL expression): where a row's data ends. */
  periodSeconds: string
}

export interface RangeBounds {
  /** Start of the range, a DateTime expression. */
  from: string
  /** End of the range, a DateTime expression; open-ended (to now) when left out. */
  to?: string | undefined
  /** `AND …` conditions on the rollups' own columns, applied in every tier. */
  where?: string | undefined
}

/**
 * A parenthesised table expression of `columns` from every tier, plus
 * `period_end`: when the row's data ends (a day row knows its last hour),
 * so "last seen" stays exact whichever tier a row came from.
 */
export function rangeRowsSql(tiers: RangeTiers, columns: readonly string[], bounds: RangeBounds): string {
  const { rollup, days, hourly, periodSeconds } = tiers
  const until = bounds.to ?? 'now()'
  const where = bounds.where ?? ''
  // Day boundaries in UTC, as the rollups cut them, whatever the server's time zone.
  const firstFullDay = `toStartOfDay(toDateTime64(${bounds.from}, 3, 'UTC') + INTERVAL 86399999 MILLISECOND, 'UTC')`
  const lastPartialDay = `toStartOfDay(toDateTime64(${until}, 3, 'UTC'), 'UTC')`
  const list = columns.join(', ')
  const upper = bounds.to === undefined ? '' : `AND period <= ${bounds.to}`
  return `(
  SELECT ${list}, period + ${periodSeconds} AS period_end FROM ${rollup}
  WHERE period >= ${bounds.from} ${upper} AND (NOT (${hourly}) OR period < ${firstFullDay} OR period >= ${lastPartialDay}) ${where}
  UNION ALL
  SELECT ${list}, last_hour + 3600 AS period_end FROM ${days}
  WHERE (${hourly}) AND period >= ${firstFullDay} AND period < ${lastPartialDay} ${where}
)`
}
