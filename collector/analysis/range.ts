/**
 * The rows a whole-range summary reads, each hour and day from the coarsest
 * rollup that holds all of it. Merging t-digests and summing rows is what
 * such summaries spend their time on, so fewer, coarser rows are what keeps
 * them under a second at 100M measurements (test/bench/queries.ts):
 * - a short range (minutes): the minute rollup for its partial hours at
 *   either end and for the hours not settled yet, the hour rollup for the
 *   whole hours between. Six hours of a fleet are then ≤ two hours of minute
 *   rows and one hour row per group for each of the rest, not 360 minute rows.
 * - a long range (hours): the hour rollup for its partial days at either
 *   end, the day rollup for the full days between: ~7 day rows and ≤ 48
 *   hour rows per group over a week instead of 168.
 * Both read the same sums and the same t-digests, merged from the same rows.
 */

export interface RangeTiers {
  /** The rollup the range calls for: the live minutes for short ranges, hours for long ones. */
  rollup: string
  /** The hour rollup of the same kind (per probe or per network): a short range's whole hours. */
  hours: string
  /** The day rollup of the same kind: a long range's full days. */
  days: string
  /** The one-row view (`until`) before which the hour rollups hold every stored measurement (schema.ts, `settledHoursView`). */
  settled: string
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

/** The first `unit` boundary at or after `time`, and the last at or before it, in UTC as the rollups cut them, whatever the server's time zone. */
const boundaries = (unit: 'Hour' | 'Day', time: string) => {
  const at = `toDateTime64(${time}, 3, 'UTC')`
  return {
    firstFull: `toStartOf${unit}(${at} + INTERVAL ${unit === 'Hour' ? 3_599_999 : 86_399_999} MILLISECOND, 'UTC')`,
    lastPartial: `toStartOf${unit}(${at}, 'UTC')`,
  }
}

/**
 * A parenthesised table expression of `columns` from every tier, plus
 * `period_end`: when the row's data ends (an hour row knows its last minute,
 * a day row its last hour), so "last seen" stays exact whichever tier a row
 * came from.
 */
export function rangeRowsSql(tiers: RangeTiers, columns: readonly string[], bounds: RangeBounds): string {
  const { rollup, hours, days, settled, hourly, periodSeconds } = tiers
  const until = bounds.to ?? 'now()'
  const where = bounds.where ?? ''
  const fullDays = { from: boundaries('Day', bounds.from).firstFull, to: boundaries('Day', until).lastPartial }
  // Whole hours end where the range's last hour starts, or earlier where an hour is not settled yet.
  const fullHours = { from: boundaries('Hour', bounds.from).firstFull, to: `least(${boundaries('Hour', until).lastPartial}, (SELECT until FROM ${settled}))` }
  const list = columns.join(', ')
  const upper = bounds.to === undefined ? '' : `AND period <= ${bounds.to}`
  const outside = (range: { from: string; to: string }) => `(period < ${range.from} OR period >= ${range.to})`
  const inside = (range: { from: string; to: string }) => `period >= ${range.from} AND period < ${range.to}`
  return `(
  SELECT ${list}, period + ${periodSeconds} AS period_end FROM ${rollup}
  WHERE period >= ${bounds.from} ${upper} AND ((${hourly}) AND ${outside(fullDays)} OR NOT (${hourly}) AND ${outside(fullHours)}) ${where}
  UNION ALL
  SELECT ${list}, if(last_minute >= period, last_minute + 60, period + 3600) AS period_end FROM ${hours}
  WHERE NOT (${hourly}) AND ${inside(fullHours)} ${where}
  UNION ALL
  SELECT ${list}, last_hour + 3600 AS period_end FROM ${days}
  WHERE (${hourly}) AND ${inside(fullDays)} ${where}
)`
}
