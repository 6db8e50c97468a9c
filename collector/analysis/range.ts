/**
 * The rows a whole-range summary reads, each hour and day from the coarsest
 * rollup that holds all of it. Merging t-digests and summing rows is what
 * such summaries spend their time on, so fewer, coarser rows are what keeps
 * them under a second at 100M measurements (test/bench/queries.ts):
 * - a short range: the minute rollup for its partial hours at either end and
 *   for the hours not settled yet, the hour rollup for the whole hours
 *   between, and the rows not folded yet grouped by the summary's own
 *   columns. Six hours of a fleet are then ≤ two hours of minute rows and
 *   one hour row per group for each of the rest, not 360 minute rows.
 * - a long range: the hour rollup for its partial days at either end, the
 *   day rollup for the full days between: ~7 day rows and ≤ 48 hour rows per
 *   group over a week instead of 168.
 * Either way the same sums and the same t-digests, merged from the same rows.
 */
import { rawMeasures } from '../store/schema.ts'

export interface RangeTiers {
  /** The minute rollup itself (what is folded, not the live minutes), of which a short range reads its partial hours. */
  minuteRollup: string
  /** The rows not folded yet, a minute's `period` on each (schema.ts, `unfoldedView`). */
  unfolded: string
  /** The hour rollup of the summary's kind (per probe or per network). */
  hours: string
  /** The day rollup of the same kind. */
  days: string
  /** The one-row view (`until`) before which the hour rollups hold every stored measurement (schema.ts, `settledHoursView`). */
  settled: string
  /** A SQL boolean: the range is long, read from hours and days rather than minutes and hours. */
  hourly: string
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

type Measure = keyof typeof rawMeasures

/** One tier's part of a range: the rows `where` selects, their `end`, grouped by `groupBy` when it aggregates. */
interface Branch {
  from: string
  columns: string
  end: string
  where: string
  groupBy?: string
}

const isMeasure = (column: string): column is Measure => Object.hasOwn(rawMeasures, column)

/**
 * Unfolded rows (schema.ts, `unfoldedView`) summed into a rollup's columns:
 * each measure by the minute view's own aggregate, grouped by every other
 * column. Grouped straight by what the reader needs rather than by minute,
 * probe and PoP first (as the live minutes are), 700,000 of them took 70–90
 * rather than 150–250 ms to sum or to merge into medians.
 */
export function unfoldedAggregates(columns: readonly string[]): { select: string; groupBy: string } {
  return {
    select: columns.map((column) => (isMeasure(column) ? `${rawMeasures[column]} AS ${column}` : column)).join(', '),
    groupBy: columns.filter((column) => !isMeasure(column)).join(', '),
  }
}

/**
 * The parts a range reads, by its kind: with `long` '0' or '1' (the API
 * knows which) only that kind's, with any other SQL boolean (a dashboard's,
 * decided by Grafana's range) both kinds', each behind `guard`.
 */
export function branchesFor<T>(long: string, short: readonly T[], longer: readonly T[], guard: (branch: T, condition: string) => T): T[] {
  if (long === '0') return [...short]
  if (long === '1') return [...longer]
  return [...short.map((branch) => guard(branch, `NOT (${long})`)), ...longer.map((branch) => guard(branch, `(${long})`))]
}

/**
 * A parenthesised table expression of `columns` from every tier, plus
 * `period_end`: when the row's data ends, to the minute over a short range
 * (an hour row knows its last minute) and to the hour over a long one (a day
 * row knows its last hour), whichever tier a row came from. A `hourly` of
 * '0' or '1' reads only the tiers of that kind of range; any other
 * expression (a dashboard's) reads each tier behind its test.
 */
export function rangeRowsSql(tiers: RangeTiers, columns: readonly string[], bounds: RangeBounds): string {
  const { minuteRollup, unfolded, hours, days, settled, hourly } = tiers
  const until = bounds.to ?? 'now()'
  const where = bounds.where ?? ''
  const fullDays = { from: boundaries('Day', bounds.from).firstFull, to: boundaries('Day', until).lastPartial }
  // Whole hours end where the range's last hour starts, or earlier where an hour is not settled yet.
  const fullHours = { from: boundaries('Hour', bounds.from).firstFull, to: `least(${boundaries('Hour', until).lastPartial}, (SELECT until FROM ${settled}))` }
  const list = columns.join(', ')
  const inRange = `period >= ${bounds.from}${bounds.to === undefined ? '' : ` AND period <= ${bounds.to}`}`
  const outside = (range: { from: string; to: string }) => `(period < ${range.from} OR period >= ${range.to})`
  const inside = (range: { from: string; to: string }) => `period >= ${range.from} AND period < ${range.to}`
  // Unfolded rows all fall in hours not settled, so none lies in the whole hours read from the hour rollup.
  const unfoldedSums = unfoldedAggregates(columns)
  const shortRange: Branch[] = [
    { from: minuteRollup, columns: list, end: 'period + 60', where: `${inRange} AND ${outside(fullHours)}` },
    { from: unfolded, columns: unfoldedSums.select, end: 'max(period) + 60', where: inRange, groupBy: unfoldedSums.groupBy },
    // The hour's last minute; the epoch on rows from before migration 10, which then end with their hour.
    { from: hours, columns: list, end: 'if(last_minute >= period, last_minute + 60, period + 3600)', where: inside(fullHours) },
  ]
  // A long range ends with an hour, as its day rows do.
  const longRange: Branch[] = [
    { from: hours, columns: list, end: 'period + 3600', where: `${inRange} AND ${outside(fullDays)}` },
    { from: days, columns: list, end: 'last_hour + 3600', where: inside(fullDays) },
  ]
  const branches = branchesFor(hourly, shortRange, longRange, (branch, condition) => ({ ...branch, where: `${condition} AND ${branch.where}` }))
  const sql = ({ from, columns: selected, end, where: condition, groupBy }: Branch) =>
    `SELECT ${selected}, ${end} AS period_end FROM ${from}\n  WHERE ${condition} ${where}${groupBy ? `\n  GROUP BY ${groupBy}` : ''}`
  return `(\n  ${branches.map(sql).join('\n  UNION ALL\n  ')}\n)`
}
