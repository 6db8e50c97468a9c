/**
 * How catchments move, per probe and target, from the per-minute rollup:
 *
 *   change   a lasting switch: the probe was on PoP A for ≥ minRun, then on B
 *            for ≥ minRun (or still is, for ≥ minRun). BGP moved it.
 *   flap     ≥ 2 switches between ≥ 2 PoPs within an hour (Calder et al.
 *            saw this for 1–3 % of vantage points): load balancing or an
 *            unstable route, not a decision.
 *   path     an RTT level shift (≥ max(5 ms, 25 %), both sides ≥ 3 minutes)
 *            with no PoP change: the upstream path moved, the catchment did not.
 *
 * Each minute's PoP is the one that answered most of that minute's samples.
 */
import type { Store } from '../store/client.ts'
import { clickhouseTime } from '../store/time.ts'
import { branchesFor } from './range.ts'
import { analysisTables, type AnalysisTables } from './tables.ts'

export interface CatchmentQuery {
  since: Date
  target?: string | undefined
  /** Minimum length of the runs on both sides of a lasting change. */
  minRunMinutes?: number
}

export interface CatchmentProbe {
  target: string
  probe: string
  asn: number
  isp: string
  city: string
  country: string
  pop: string
  pops: Record<string, number>
  samples: number
}

export interface CatchmentChange {
  target: string
  probe: string
  asn: number
  isp: string
  city: string
  from_pop: string
  to_pop: string
  at: string
  from_minutes: number
  to_minutes: number
  rtt_before_ms: number
  rtt_after_ms: number
}

export interface Flap {
  target: string
  probe: string
  /** The hour the flapping began: switches less than an hour apart count as one episode. */
  hour: string
  switches: number
  pops: string[]
}

export interface PathChange {
  target: string
  probe: string
  pop: string
  at: string
  rtt_before_ms: number
  rtt_after_ms: number
}

export interface CatchmentReport {
  probes: CatchmentProbe[]
  changes: CatchmentChange[]
  flaps: Flap[]
  path_changes: PathChange[]
}

/** Where the catchment SQL takes its inputs: the API binds query parameters, a Grafana panel its macros. */
export interface CatchmentInputs {
  /** Start of the window, a DateTime expression. */
  since: string
  /** Minimum run length in minutes on both sides of a change, a number expression. */
  minRun: string
  /** `AND …` on the rollup's columns, or ''. */
  filter: string
  /** Seconds one row of the rollup covers (60, or 3600 for the hour rollup over long ranges). */
  periodSeconds: string
}

const apiInputs = (targetFilter: boolean): CatchmentInputs => ({
  since: "{since:DateTime64(3, 'UTC')}",
  minRun: '{min_run:UInt32}',
  filter: targetFilter ? 'AND target = {target:String}' : '',
  periodSeconds: '60',
})

/**
 * The array shifted by `offset` places, its length kept: element i is array[i + offset], or
 * `pad` past either end. How a lambda reads a neighbour without capturing the array.
 */
function shifted(array: string, offset: number, pad: string): string {
  return offset < 0 ? `arrayShiftRight(${array}, ${-offset}, ${pad})` : `arrayShiftLeft(${array}, ${offset}, ${pad})`
}

/** The values of `array` where `flags` is 1. */
const where = (array: string, flags: string) => `arrayFilter((value, flag) -> flag = 1, ${array}, ${flags})`

/** `array` cut into groups, each beginning where `flags` is 1. */
const groups = (array: string, flags: string) => `arraySplit((value, flag) -> flag = 1, ${array}, ${flags})`

/** What a track reads of each row: the probe, where it stands, the period, the PoP, and what the rollups count. */
const trackColumns = 'period, target, probe, pop, asn, isp, city, country'

/**
 * The rows the tracks are built from, as a table expression: over short ranges the minute rollup,
 * and the rows not folded yet one per measurement (a track adds up a minute's rows per PoP anyway)
 * rather than grouped by minute first as the live minutes are: `/v1/catchment` over 6 h with
 * 700,000 unfolded, 717 → 623 ms (median of 5, the same report). `long` (a SQL boolean; '0' or '1'
 * reads only that kind's tiers) reads the hour rollup instead, for a dashboard's long ranges.
 */
export function trackRows(tables: Pick<AnalysisTables, 'minuteRollup' | 'unfolded' | 'hours'>, long = '0'): string {
  const short = [
    `SELECT ${trackColumns}, samples, connect_min FROM ${tables.minuteRollup}`,
    `SELECT ${trackColumns}, toUInt64(1) AS samples, ifNull(connect_ms, inf) AS connect_min FROM ${tables.unfolded}`,
  ]
  const hourly = `SELECT ${trackColumns}, samples, connect_min FROM ${tables.hours}`
  const branches = branchesFor(long, short, [hourly], (branch, condition) => `${branch} WHERE ${condition}`)
  return `(${branches.join('\n  UNION ALL\n  ')})`
}

/**
 * Each probe's minutes as arrays in time order, each minute with its dominant PoP, cut into runs
 * of the same PoP. One GROUP BY, straight from the rollup, into plain arrays: three nested
 * GROUP BYs (minute × PoP, minute, probe) took 1.4 s at 100M rows, this grouping about 0.2 s. Arrays, not window
 * functions: sorting each probe's few hundred minutes is several times faster than a window sort
 * over every minute of the fleet. And no lambda reads an array it does not iterate (`arr[i]`
 * inside arrayMap): ClickHouse copies such an array for every element, which made this quadratic;
 * neighbours come from shifted copies instead. The stages are nested subqueries, read from the
 * innermost out (group, add up a minute's rows per PoP, pick the minute's PoP, cut into runs): as
 * one SELECT whose aliases built on each other, planning alone took 0.25 s.
 */
function runsCte(rollup: string, { since, filter, periodSeconds }: CatchmentInputs): string {
  return `
tracks AS (
  SELECT *,
    -- Each minute's predecessor's PoP; the first minute is its own, so it never counts as a switch.
    ${shifted('track_pops', -1, 'track_pops[1]')} AS previous_pops,
    arrayMap((pop, previous) -> toUInt8(pop != previous), track_pops, previous_pops) AS track_switched,
    -- A run begins at the first minute and at every switch, and ends before the next begins.
    arrayMap((switched, i) -> toUInt8(i = 1 OR switched = 1), track_switched, arrayEnumerate(track_pops)) AS run_begins,
    ${shifted('run_begins', 1, '1')} AS run_ends,
    ${where('track_pops', 'run_begins')} AS run_pops,
    ${where('track_times', 'run_begins')} AS run_starts,
    arrayMap((first, last) -> intDiv(dateDiff('second', first, last) + ${periodSeconds}, 60), run_starts, ${where('track_times', 'run_ends')}) AS run_lengths,
    arrayMap(rtts -> arrayMin(rtts), ${groups('track_rtts', 'run_begins')}) AS run_rtts
  FROM (
    SELECT *,
      -- The minute's PoP is the one that answered most; its RTT is that PoP's, not the minute's best over all PoPs.
      arrayMap((time, previous) -> toUInt8(time != previous), pop_times, ${shifted('pop_times', -1, "toDateTime(0, 'UTC')")}) AS minute_begins,
      ${where('pop_times', 'minute_begins')} AS track_times,
      -- The greatest (samples, -position) of each minute: most samples, and on a tie the PoP first by name.
      -- A tuple's maximum, not arrayReduce('argMax'), which builds an aggregate state for every minute.
      arrayMap(group -> arrayMax(group), ${groups('arrayMap((pop, samples, rtt, k) -> (samples, -k, pop, rtt), pop_pops, pop_samples, pop_rtts, arrayEnumerate(pop_pops))', 'minute_begins')}) AS minute_winners,
      arrayMap(winner -> winner.3, minute_winners) AS track_pops,
      arrayMap(winner -> winner.4, minute_winners) AS track_rtts
    FROM (
      SELECT *,
        sorted_rows.1 AS sorted_times,
        sorted_rows.2 AS sorted_pops,
        -- One rollup row per (minute, PoP) once its parts are merged, several before: add them up.
        arrayMap((time, pop, previous_time, previous_pop) -> toUInt8(time != previous_time OR pop != previous_pop),
          sorted_times, sorted_pops, ${shifted('sorted_times', -1, "toDateTime(0, 'UTC')")}, ${shifted('sorted_pops', -1, "''")}) AS pop_begins,
        ${where('sorted_times', 'pop_begins')} AS pop_times,
        ${where('sorted_pops', 'pop_begins')} AS pop_pops,
        arrayMap(group -> arraySum(group), ${groups('sorted_rows.3', 'pop_begins')}) AS pop_samples,
        arrayMap(group -> arrayMin(group), ${groups('sorted_rows.4', 'pop_begins')}) AS pop_rtts
      FROM (
        SELECT *,
          -- Sorted by one number, the time and the PoP's rank by name in the track: comparing (time, PoP) tuples
          -- took 80 ms more at 100M rows. A minute's rows of one PoP come together (they are added up next), and
          -- a minute's PoPs in name order (which breaks a tie). Zipped into tuples to sort them together: sorting
          -- four arrays by the key each took twice as long.
          arraySort(arrayDistinct(row_pops)) AS pop_names,
          arraySort((row, key) -> key, arrayZip(row_times, row_pops, row_samples, row_rtts),
            arrayMap((time, pop) -> toUInt64(time) * (length(pop_names) + 1) + indexOf(pop_names, pop), row_times, row_pops)) AS sorted_rows
        FROM (
          -- Four arrays, not groupArray of a tuple, which stores each one serialized: 0.3 s of CPU at 100M rows.
          SELECT target, probe, any(asn) AS asn, any(isp) AS isp, any(city) AS city, any(country) AS country,
            groupArray(period) AS row_times, groupArray(pop) AS row_pops, groupArray(samples) AS row_samples, groupArray(connect_min) AS row_rtts
          FROM ${rollup}
          WHERE period >= ${since} AND pop != '' ${filter}
          GROUP BY target, probe
        )
      )
    )
  )
)`
}

/**
 * Each track's lasting changes as parallel arrays (`change_*`): a run of one PoP followed by a
 * run of another, both at least `minRun` minutes long.
 */
function changeColumns(minRun: string): string {
  return `arrayMap((length, previous, k) -> toUInt8(k > 1 AND previous >= ${minRun} AND length >= ${minRun}),
      run_lengths, ${shifted('run_lengths', -1, '0')}, arrayEnumerate(run_lengths)) AS change_here,
    ${where(shifted('run_pops', -1, "''"), 'change_here')} AS change_from_pops,
    ${where('run_pops', 'change_here')} AS change_to_pops,
    ${where('run_starts', 'change_here')} AS change_times,
    ${where(shifted('run_lengths', -1, '0'), 'change_here')} AS change_from_minutes,
    ${where('run_lengths', 'change_here')} AS change_to_minutes,
    ${where(shifted('run_rtts', -1, 'nan'), 'change_here')} AS change_rtts_before,
    ${where('run_rtts', 'change_here')} AS change_rtts_after`
}

/**
 * Each track's flapping episodes (`flap_*`): switches less than an hour apart chain into one
 * episode, so flapping across a clock hour's end is still seen; an episode of ≥ 2 switches
 * between ≥ 2 PoPs is a flap.
 */
const flapColumns = `${where('track_times', 'track_switched')} AS switch_times,
    arrayMap((gap, k) -> toUInt8(k = 1 OR gap >= 3600), arrayDifference(arrayMap(time -> toUInt32(time), switch_times)), arrayEnumerate(switch_times)) AS episode_begins,
    ${groups('switch_times', 'episode_begins')} AS episode_times,
    arrayMap((froms, tos) -> arraySort(arrayDistinct(arrayConcat(froms, tos))), ${groups(where('previous_pops', 'track_switched'), 'episode_begins')}, ${groups(where('track_pops', 'track_switched'), 'episode_begins')}) AS episode_pops,
    arrayMap((times, pops) -> toUInt8(length(times) >= 2 AND length(pops) >= 2), episode_times, episode_pops) AS flap_here,
    ${where("arrayMap(times -> toStartOfHour(times[1]), episode_times)", 'flap_here')} AS flap_hours,
    ${where('arrayMap(times -> toUInt32(length(times)), episode_times)', 'flap_here')} AS flap_switches,
    ${where('episode_pops', 'flap_here')} AS flap_pops`

/**
 * Each track's path changes (`path_*`): within a run (one PoP), the first minute where the 3
 * minutes from it on all sit clear of the 3 before it (≥ max(5 ms, 25 %)). Neighbours come from
 * shifted copies of the track (see runsCte), padded where the track ends.
 */
const pathColumns = `arrayCumSum(run_begins) AS run_ids,
    ${shifted('track_rtts', 1, 'nan')} AS ahead_1,
    ${shifted('track_rtts', 2, 'nan')} AS ahead_2,
    arrayMap((a, b, c) -> least(a, b, c), track_rtts, ahead_1, ahead_2) AS after_min,
    arrayMap((a, b, c) -> greatest(a, b, c), track_rtts, ahead_1, ahead_2) AS after_max,
    -- The three minutes before i are the three from i - 3 on.
    ${shifted('after_min', -3, 'nan')} AS before_min,
    ${shifted('after_max', -3, 'nan')} AS before_max,
    -- The six minutes lie in one run when the run three back is the run two ahead.
    arrayMap((back, ahead, bmin, bmax, amin, amax) -> toUInt8(back = ahead AND back > 0
        AND (amin - bmax >= greatest(5, 0.25 * bmax) OR bmin - amax >= greatest(5, 0.25 * amax))),
      ${shifted('run_ids', -3, '0')}, ${shifted('run_ids', 2, '0')}, before_min, before_max, after_min, after_max) AS shifted_here,
    ${where('run_ids', 'shifted_here')} AS shift_runs,
    arrayMap((step, k) -> toUInt8(k = 1 OR step != 0), arrayDifference(shift_runs), arrayEnumerate(shift_runs)) AS path_here,
    ${where(where('track_pops', 'shifted_here'), 'path_here')} AS path_pops,
    ${where(where('track_times', 'shifted_here'), 'path_here')} AS path_times,
    ${where(where('before_min', 'shifted_here'), 'path_here')} AS path_rtts_before,
    ${where(where('after_min', 'shifted_here'), 'path_here')} AS path_rtts_after`

const isoTime = (time: string) => `formatDateTime(${time}, '%Y-%m-%dT%H:%i:%SZ', 'UTC')`

/** Lasting PoP changes, one row each: the Findings dashboard's table (run with `prefer_column_name_to_alias = 1`). */
export function catchmentChangesSql(rollup: string, inputs: CatchmentInputs): string {
  return `
    WITH ${runsCte(rollup, inputs)}
    SELECT target, probe, asn, isp, city, from_pop, to_pop, ${isoTime('change_time')} AS at, from_minutes, to_minutes,
      round(rtt_before, 3) AS rtt_before_ms, round(rtt_after, 3) AS rtt_after_ms
    FROM (SELECT target, probe, asn, isp, city, ${changeColumns(inputs.minRun)} FROM tracks)
    ARRAY JOIN change_from_pops AS from_pop, change_to_pops AS to_pop, change_times AS change_time, change_from_minutes AS from_minutes,
      change_to_minutes AS to_minutes, change_rtts_before AS rtt_before, change_rtts_after AS rtt_after
    ORDER BY at, probe`
}

/** One track's row of the report query: its summary and its events as parallel arrays. */
interface TrackRow extends CatchmentProbe {
  change_from_pops: string[]
  change_to_pops: string[]
  change_times: string[]
  change_from_minutes: number[]
  change_to_minutes: number[]
  change_rtts_before: number[]
  change_rtts_after: number[]
  flap_hours: string[]
  flap_switches: number[]
  flap_pops: string[][]
  path_pops: string[]
  path_times: string[]
  path_rtts_before: number[]
  path_rtts_after: number[]
}

/** A DateTime as JSONEachRow writes it (UTC), as the ISO-8601 the API answers with. */
const iso = (time: string) => `${time.replace(' ', 'T')}Z`
const roundMs = (ms: number) => Math.round(ms * 1000) / 1000

const trackRowColumns = [
  'target', 'probe', 'asn', 'isp', 'city', 'country', 'pop', 'samples', 'pops',
  'change_from_pops', 'change_to_pops', 'change_times', 'change_from_minutes', 'change_to_minutes', 'change_rtts_before', 'change_rtts_after',
  'flap_hours', 'flap_switches', 'flap_pops',
  'path_pops', 'path_times', 'path_rtts_before', 'path_rtts_after',
] as const satisfies ReadonlyArray<keyof TrackRow>

/** Plain string order, as ClickHouse sorts ASCII names; not localeCompare, which follows a locale. */
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const byTimeThenProbe = <T extends { probe: string }>(time: (row: T) => string) => (a: T, b: T) =>
  compareText(time(a), time(b)) || compareText(a.probe, b.probe)

/**
 * The whole report in one query: every probe's track is built once and read for its summary,
 * changes, flaps and path changes together (ClickHouse would build a CTE again for every
 * query that names it: four queries took 2.6 s at 100M rows).
 */
export async function catchmentReport(store: Store, query: CatchmentQuery): Promise<CatchmentReport> {
  const rollup = trackRows(analysisTables(store))
  const inputs = apiInputs(query.target !== undefined)
  const params = { since: clickhouseTime(query.since), target: query.target ?? '', min_run: query.minRunMinutes ?? 10 }
  const result = await store.client('query').query({
    query: `
      WITH ${runsCte(rollup, inputs)}
      -- Only these columns leave the engine: every alias of the inner SELECT, per-minute arrays included, would be output.
      SELECT ${trackRowColumns.join(', ')}
      FROM (
        SELECT *,
          track_pops[-1] AS pop, arraySum(pop_samples) AS samples,
          -- Summed per PoP with a lambda per distinct PoP (a few per track): arrayReduce('sumMap') compares
          -- generic values and took 0.2 s at 100M rows.
          arraySort(arrayDistinct(pop_pops)) AS distinct_pops,
          mapFromArrays(distinct_pops, arrayMap(one -> toUInt64(arraySum((pop, count) -> if(pop = one, count, 0), pop_pops, pop_samples)), distinct_pops)) AS pops,
          ${changeColumns(inputs.minRun)},
          ${flapColumns},
          ${pathColumns}
        FROM tracks
      )`,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  })
  // Sorted here: in the engine, sorting moved every track's event arrays (0.1 s at 100M rows).
  const tracks = (await result.json<TrackRow>()).sort((a, b) => compareText(a.target, b.target) || compareText(a.probe, b.probe))

  const report: CatchmentReport = { probes: [], changes: [], flaps: [], path_changes: [] }
  for (const track of tracks) {
    const { target, probe, asn, isp, city } = track
    report.probes.push({ target, probe, asn, isp, city, country: track.country, pop: track.pop, samples: track.samples, pops: track.pops })
    track.change_times.forEach((time, i) =>
      report.changes.push({
        target, probe, asn, isp, city, at: iso(time),
        from_pop: track.change_from_pops[i] as string,
        to_pop: track.change_to_pops[i] as string,
        from_minutes: track.change_from_minutes[i] as number,
        to_minutes: track.change_to_minutes[i] as number,
        rtt_before_ms: roundMs(track.change_rtts_before[i] as number),
        rtt_after_ms: roundMs(track.change_rtts_after[i] as number),
      }),
    )
    track.flap_hours.forEach((hour, i) =>
      report.flaps.push({ target, probe, hour: iso(hour), switches: track.flap_switches[i] as number, pops: track.flap_pops[i] as string[] }),
    )
    track.path_times.forEach((time, i) =>
      report.path_changes.push({
        target, probe, at: iso(time),
        pop: track.path_pops[i] as string,
        rtt_before_ms: roundMs(track.path_rtts_before[i] as number),
        rtt_after_ms: roundMs(track.path_rtts_after[i] as number),
      }),
    )
  }
  report.changes.sort(byTimeThenProbe((change) => change.at))
  report.flaps.sort(byTimeThenProbe((flap) => flap.hour))
  report.path_changes.sort(byTimeThenProbe((path) => path.at))
  return report
}
