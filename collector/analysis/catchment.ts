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
import { analysisTables } from './tables.ts'

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

/** Minutes with one dominant PoP each, per probe in time order and cut into runs of the same PoP. */
function runsCte(rollup: string, { since, filter, periodSeconds }: CatchmentInputs): string {
  return `
per_pop AS (
  SELECT target, probe, period AS slot, pop, any(asn) AS asn, any(isp) AS isp, any(city) AS city,
    sum(samples) AS n, min(connect_min) AS rtt
  FROM ${rollup}
  WHERE period >= ${since} AND pop != '' ${filter}
  GROUP BY target, probe, slot, pop
),
-- The minute's PoP is the one that answered most; its RTT is that PoP's, not the minute's best over all PoPs.
minutes AS (
  SELECT target, probe, slot, any(asn) AS asn, any(isp) AS isp, any(city) AS city,
    argMax(pop, n) AS pop, argMax(rtt, n) AS rtt
  FROM per_pop
  GROUP BY target, probe, slot
),
-- Each probe's minutes as arrays in time order, cut into runs of one PoP. Arrays, not window
-- functions: grouping by probe and sorting each probe's few hundred minutes is several
-- times faster than ClickHouse's window sort over every minute of the fleet.
tracks AS (
  SELECT target, probe, any(asn) AS asn, any(isp) AS isp, any(city) AS city,
    arraySort(point -> point.1, groupArray((slot, pop, rtt))) AS points,
    arrayMap(point -> point.1, points) AS track_times,
    arrayMap(point -> point.2, points) AS track_pops,
    arrayMap(point -> point.3, points) AS track_rtts,
    arrayMap((p, i) -> toUInt8(i > 1 AND p != track_pops[i - 1]), track_pops, arrayEnumerate(track_pops)) AS track_switched,
    arrayFilter(i -> i = 1 OR track_switched[i] = 1, arrayEnumerate(track_pops)) AS run_first,
    arrayMap(k -> if(k < length(run_first), run_first[k + 1] - 1, length(track_pops)), arrayEnumerate(run_first)) AS run_last,
    arrayMap(i -> track_pops[i], run_first) AS run_pops,
    arrayMap(i -> track_times[i], run_first) AS run_starts,
    arrayMap((a, b) -> intDiv(dateDiff('second', track_times[a], track_times[b]) + ${periodSeconds}, 60), run_first, run_last) AS run_lengths,
    arrayMap((a, b) -> arrayMin(arraySlice(track_rtts, a, b - a + 1)), run_first, run_last) AS run_rtts
  FROM minutes
  GROUP BY target, probe
)`
}

/** Lasting PoP changes, for the API and the Findings dashboard alike (run with `prefer_column_name_to_alias = 1`). */
export function catchmentChangesSql(rollup: string, inputs: CatchmentInputs): string {
  return `
    WITH ${runsCte(rollup, inputs)}
    SELECT target, probe, asn, isp, city, run_pops[k - 1] AS from_pop, run_pops[k] AS to_pop,
      formatDateTime(run_starts[k], '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS at,
      run_lengths[k - 1] AS from_minutes, run_lengths[k] AS to_minutes,
      round(run_rtts[k - 1], 3) AS rtt_before_ms, round(run_rtts[k], 3) AS rtt_after_ms
    FROM tracks
    ARRAY JOIN arrayEnumerate(run_pops) AS k
    WHERE k > 1 AND run_lengths[k - 1] >= ${inputs.minRun} AND run_lengths[k] >= ${inputs.minRun}
    ORDER BY at, probe`
}

export async function catchmentReport(store: Store, query: CatchmentQuery): Promise<CatchmentReport> {
  const rollup = analysisTables(store).minutes
  const inputs = apiInputs(query.target !== undefined)
  const targetFilter = inputs.filter
  const params = { since: clickhouseTime(query.since), target: query.target ?? '', min_run: query.minRunMinutes ?? 10 }
  const client = store.client('query')
  // Aliases such as `topKWeighted(…)(pop, samples)[1] AS pop` must not shadow the column in WHERE.
  const settings = { output_format_json_quote_64bit_integers: 0, prefer_column_name_to_alias: 1 } as const
  const run = async <T>(sql: string): Promise<T[]> =>
    (await client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: settings })).json<T>()

  const probes = run<CatchmentProbe>(`
    SELECT target, probe, any(asn) AS asn, any(isp) AS isp, any(city) AS city, any(country) AS country,
      argMax(pop, minute) AS pop, sum(samples) AS samples,
      CAST(sumMap(map(pop, samples)), 'Map(String, UInt64)') AS pops
    FROM ${rollup}
    WHERE minute >= {since:DateTime64(3, 'UTC')} AND pop != '' ${targetFilter}
    GROUP BY target, probe ORDER BY target, probe`)

  const changes = run<CatchmentChange>(catchmentChangesSql(rollup, inputs))

  // Switches less than an hour apart chain into one episode, so flapping across a clock hour's end is
  // still seen: any two switches within 60 minutes of each other are in the same episode.
  const flaps = run<Flap>(`
    WITH ${runsCte(rollup, inputs)},
    switches AS (
      SELECT target, probe,
        arrayFilter(i -> track_switched[i] = 1, arrayEnumerate(track_pops)) AS at,
        arrayMap(i -> track_times[i], at) AS switch_times,
        arrayMap(i -> track_pops[i - 1], at) AS from_pops,
        arrayMap(i -> track_pops[i], at) AS to_pops,
        arrayCumSum(arrayMap((t, k) -> toUInt32(k = 1 OR dateDiff('second', switch_times[k - 1], t) >= 3600), switch_times, arrayEnumerate(switch_times))) AS episodes
      FROM tracks
    )
    SELECT target, probe, formatDateTime(toStartOfHour(min(switch_time)), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS hour,
      toUInt32(count()) AS switches, arraySort(groupUniqArrayArray([from_pop, to_pop])) AS pops
    FROM switches
    ARRAY JOIN switch_times AS switch_time, from_pops AS from_pop, to_pops AS to_pop, episodes AS episode
    GROUP BY target, probe, episode
    HAVING switches >= 2 AND length(pops) >= 2
    ORDER BY hour, probe`)

  const pathChanges = run<PathChange>(`
    WITH ${runsCte(rollup, inputs)},
    -- Within a run (one PoP): a minute where the 3 minutes from it on all sit clear of the 3 before it.
    windows AS (
      SELECT target, probe, run_index, track_pops[i] AS point_pop, track_times[i] AS point_time,
        arraySlice(track_rtts, greatest(i - 3, 1), 3) AS before, arraySlice(track_rtts, i, 3) AS after,
        arrayMin(before) AS before_min, arrayMax(before) AS before_max, arrayMin(after) AS after_min, arrayMax(after) AS after_max
      FROM tracks
      ARRAY JOIN arrayEnumerate(track_pops) AS i, arrayCumSum(track_switched) AS run_index
      WHERE i - 3 >= run_first[run_index + 1] AND i + 2 <= run_last[run_index + 1]
    )
    SELECT target, probe, any(point_pop) AS pop, formatDateTime(min(point_time), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS at,
      round(argMin(before_min, point_time), 3) AS rtt_before_ms, round(argMin(after_min, point_time), 3) AS rtt_after_ms
    FROM windows
    WHERE after_min - before_max >= greatest(5, 0.25 * before_max) OR before_min - after_max >= greatest(5, 0.25 * after_max)
    GROUP BY target, probe, run_index
    ORDER BY at`)

  const [probeRows, changeRows, flapRows, pathRows] = await Promise.all([probes, changes, flaps, pathChanges])
  return {
    probes: probeRows.map((row) => ({ ...row, pops: Object.fromEntries(Object.entries(row.pops).map(([pop, n]) => [pop, Number(n)])) })),
    changes: changeRows,
    flaps: flapRows,
    path_changes: pathRows,
  }
}
