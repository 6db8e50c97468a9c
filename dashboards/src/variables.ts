/**
 * The variables every catchment dashboard has, and the SQL fragments that
 * apply them. The filters use `$__conditionalAll`, so "All" costs nothing:
 * the plugin turns the condition into `1=1` instead of an IN list of every value.
 */
import { rangeRowsSql, unfoldedAggregates } from '../../collector/analysis/range.ts'
import { analysisTables } from '../../collector/analysis/tables.ts'
import { liveMinutesView } from '../../collector/store/schema.ts'
import { customVariable, queryVariable, type Variable } from './grafana.ts'

/** The tables by their plain names: the datasource's default database holds them. */
const tables = analysisTables()

/**
 * Ranges longer than two days read the hour rollups, shorter ones the minute
 * rollup with the rows not folded yet: `$rollup` is the rollup per probe
 * (maps, catchment changes), the live minutes (`liveMinutesView`) or the
 * hours; fleet-wide panels read the network rollups (`networkRows`), which
 * merge one digest per network instead of one per probe. `$step` is the
 * bucket in seconds. Both are recomputed whenever the time range changes.
 */
const longRangeSeconds = 2 * 86_400
const isLongRange = `\${__to:date:seconds} - \${__from:date:seconds} > ${longRangeSeconds}`

export const rollupVariables: Variable[] = [
  queryVariable({ name: 'rollup', sql: `SELECT if(${isLongRange}, 'measurements_1h', '${liveMinutesView.name}')`, multi: false, refresh: 2, hidden: true }),
  queryVariable({ name: 'step', sql: `SELECT if(${isLongRange}, 3600, 60)`, multi: false, refresh: 2, hidden: true }),
]

export const filterVariables: Variable[] = [
  queryVariable({ name: 'target', label: 'Target', sql: 'SELECT DISTINCT target FROM measurements_1h WHERE $__timeFilter(hour) ORDER BY target', refresh: 2 }),
  queryVariable({ name: 'country', label: 'Country', sql: "SELECT DISTINCT country FROM probes FINAL WHERE revoked_at IS NULL AND country != '' ORDER BY country" }),
  queryVariable({
    name: 'asn',
    label: 'ASN',
    // Two columns: the plugin takes the first as the value and the second as the label.
    sql: "SELECT asn, concat('AS', toString(asn), ' ', any(isp)) FROM probes FINAL WHERE revoked_at IS NULL AND $__conditionalAll(country IN (${country}), $country) GROUP BY asn ORDER BY asn",
  }),
  queryVariable({ name: 'pop', label: 'PoP', sql: 'SELECT DISTINCT pop FROM pop_locations FINAL WHERE $__conditionalAll(target IN (${target}), $target) ORDER BY pop', refresh: 2 }),
]

export const silentAfterVariable = customVariable('silent_after', 'Silent after (minutes)', ['5', '15', '60', '1440'], '15')

type Filter = 'target' | 'country' | 'asn' | 'pop'

const conditions: Record<Filter, string> = {
  target: '$__conditionalAll(target IN (${target}), $target)',
  country: '$__conditionalAll(country IN (${country}), $country)',
  asn: '$__conditionalAll(asn IN (${asn}), $asn)',
  pop: '$__conditionalAll(pop IN (${pop}), $pop)',
}

/** `A AND B …` for the chosen filters, over columns of those names. */
export function filters(names: readonly Filter[] = ['target', 'country', 'asn', 'pop']): string {
  return names.map((name) => conditions[name]).join(' AND ')
}

/** True when the range reads the hour rollups: whole-range summaries then read its full days from the day rollups. */
export const isHourly = '${step} = 3600'

/** A rollup's time bucket, never finer than the rollup itself (an hour row must not land in a 10-minute bucket). */
export const bucket = 'toStartOfInterval(period, INTERVAL greatest($__interval_s, ${step}) second)'
export const bucketSeconds = 'greatest($__interval_s, ${step})'

/** The rows of the probe rollup the time range calls for, in range and filtered. */
export const rollupRows = (names?: readonly Filter[]) => `FROM \${rollup} WHERE $__timeFilter(period) AND ${filters(names)}`

/**
 * The rows over time of a fleet-wide panel, which needs no probe: over long
 * ranges the network hour rollup. Over short ones the minute rollup, and
 * the rows not folded yet summed straight into the minute and the panel's
 * own `columns` (range.ts, `unfoldedAggregates`), not into the live minutes'
 * minute × probe × PoP first: with 700,000 unfolded that took the connect
 * heatmap over 6 h from 0.79 to 0.26 s. `where` (`AND …`) narrows every
 * branch.
 */
export const networkRows = (columns: readonly string[], { names, where = '' }: { names?: readonly Filter[]; where?: string } = {}) => {
  const conditions = `$__timeFilter(period) AND ${filters(names)} ${where}`
  const list = columns.join(', ')
  const unfolded = unfoldedAggregates(['period', ...columns])
  return `FROM (
  SELECT period, ${list} FROM ${tables.networkHours} WHERE (${isHourly}) AND ${conditions}
  UNION ALL
  SELECT period, ${list} FROM ${tables.minuteRollup} WHERE NOT (${isHourly}) AND ${conditions}
  UNION ALL
  SELECT ${unfolded.select} FROM ${tables.unfolded} WHERE NOT (${isHourly}) AND ${conditions} GROUP BY ${unfolded.groupBy}
)`
}

/**
 * The network rows of the whole range for a summary that is not over time,
 * each part from the coarsest rollup that holds all of it (range.ts): over
 * short ranges the whole hours from the network hour rollup, over long ones
 * the full days from the day rollup, the same merged states in a sixtieth
 * or a twenty-fourth of the rows.
 */
export const networkRangeRows = (columns: readonly string[], names?: readonly Filter[]) =>
  `FROM ${rangeRowsSql(
    { ...tables, hours: tables.networkHours, days: tables.networkDays, hourly: isHourly },
    columns,
    { from: '$__fromTime', to: '$__toTime', where: `AND ${filters(names)}` },
  )}`
