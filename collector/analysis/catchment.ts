/**
 * How catchments move, per probe and target, from the per-minute rollup:
 *
 *   change   a lasting switch: the probe was on PoP A for ≥ minRun, then on B
 *            for ≥ minRun (or still is, for ≥ minRun). BGP moved it.
 *   flap     ≥ 2 switches between ≥ 2 PoPs within one hour (Calder et al.
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
}

const apiInputs = (targetFilter: boolean): CatchmentInputs => ({
  since: "{since:DateTime64(3, 'UTC')}",
  minRun: '{min_run:UInt32}',
  filter: targetFilter ? 'AND target = {target:String}' : '',
})

/** Minutes with one dominant PoP each, numbered into runs of the same PoP. */
function runsCte(rollup: string, { since, filter }: CatchmentInputs): string {
  return `
per_pop AS (
  SELECT target, probe, minute, pop, any(asn) AS asn, any(isp) AS isp, any(city) AS city,
    sum(samples) AS n, min(connect_min) AS rtt
  FROM ${rollup}
  WHERE minute >= ${since} AND pop != '' ${filter}
  GROUP BY target, probe, minute, pop
),
-- The minute's PoP is the one that answered most; its RTT is that PoP's, not the minute's best over all PoPs.
minutes AS (
  SELECT target, probe, minute, any(asn) AS asn, any(isp) AS isp, any(city) AS city,
    argMax(pop, n) AS pop, argMax(rtt, n) AS rtt
  FROM per_pop
  GROUP BY target, probe, minute
),
marked AS (
  SELECT *, if(pop != lagInFrame(pop, 1, pop) OVER (PARTITION BY target, probe ORDER BY minute ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), 1, 0) AS switched
  FROM minutes
),
numbered AS (
  SELECT *, sum(switched) OVER (PARTITION BY target, probe ORDER BY minute ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
  FROM marked
),
runs AS (
  SELECT target, probe, run, any(asn) AS asn, any(isp) AS isp, any(city) AS city, any(pop) AS pop,
    min(minute) AS run_start, max(minute) AS run_end, dateDiff('minute', run_start, run_end) + 1 AS run_minutes,
    min(rtt) AS run_rtt
  FROM numbered GROUP BY target, probe, run
)`
}

/** Lasting PoP changes, for the API and the Findings dashboard alike (run with `prefer_column_name_to_alias = 1`). */
export function catchmentChangesSql(rollup: string, inputs: CatchmentInputs): string {
  return `
    WITH ${runsCte(rollup, inputs)},
    paired AS (
      SELECT *,
        lagInFrame(pop, 1, '') OVER w AS prev_pop,
        lagInFrame(run_minutes, 1, 0) OVER w AS prev_minutes,
        lagInFrame(run_rtt, 1, 0) OVER w AS prev_rtt
      FROM runs
      WINDOW w AS (PARTITION BY target, probe ORDER BY run ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    )
    SELECT target, probe, asn, isp, city, prev_pop AS from_pop, pop AS to_pop,
      formatDateTime(run_start, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS at,
      prev_minutes AS from_minutes, run_minutes AS to_minutes,
      round(prev_rtt, 3) AS rtt_before_ms, round(run_rtt, 3) AS rtt_after_ms
    FROM paired
    WHERE run > 0 AND prev_minutes >= ${inputs.minRun} AND run_minutes >= ${inputs.minRun}
    ORDER BY run_start`
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

  const flaps = run<Flap>(`
    WITH ${runsCte(rollup, inputs)}
    SELECT target, probe, formatDateTime(toStartOfHour(minute), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS hour,
      toUInt32(sum(switched)) AS switches, arraySort(groupUniqArray(pop)) AS pops
    FROM numbered
    GROUP BY target, probe, toStartOfHour(minute)
    HAVING switches >= 2 AND length(pops) >= 2
    ORDER BY hour, probe`)

  const pathChanges = run<PathChange>(`
    WITH ${runsCte(rollup, inputs)},
    -- Within a run (one PoP): a minute where the 3 minutes from it on all sit clear of the 3 before it.
    windows AS (
      SELECT target, probe, run, pop, minute,
        min(rtt) OVER before AS before_min, max(rtt) OVER before AS before_max, count() OVER before AS before_n,
        min(rtt) OVER after AS after_min, max(rtt) OVER after AS after_max, count() OVER after AS after_n
      FROM numbered
      WINDOW
        before AS (PARTITION BY target, probe, run ORDER BY minute ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING),
        after AS (PARTITION BY target, probe, run ORDER BY minute ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING)
    ),
    shifts AS (
      SELECT *, before_min AS before_rtt, after_min AS after_rtt,
        after_min - before_max >= greatest(5, 0.25 * before_max) OR before_min - after_max >= greatest(5, 0.25 * after_max) AS shifted
      FROM windows WHERE before_n = 3 AND after_n = 3
    )
    SELECT target, probe, pop, formatDateTime(min(minute), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS at,
      round(argMin(before_rtt, minute), 3) AS rtt_before_ms, round(argMin(after_rtt, minute), 3) AS rtt_after_ms
    FROM shifts WHERE shifted
    GROUP BY target, probe, run, pop
    ORDER BY at`)

  const [probeRows, changeRows, flapRows, pathRows] = await Promise.all([probes, changes, flaps, pathChanges])
  return {
    probes: probeRows.map((row) => ({ ...row, pops: Object.fromEntries(Object.entries(row.pops).map(([pop, n]) => [pop, Number(n)])) })),
    changes: changeRows,
    flaps: flapRows,
    path_changes: pathRows,
  }
}
