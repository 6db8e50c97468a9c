/**
 * Suboptimal routing, found by ClickHouse over the rollups (never by pulling
 * raw rows into JavaScript): a window up to two days from its minutes and
 * whole hours, a longer one from its hours and days (range.ts). The method
 * is DESIGN.md's, after Koch et al. (SIGCOMM 2021) and Calder et al. (IMC
 * 2015):
 *
 *   group        ⟨target, ASN, metro⟩ (metro = the probes' city, else country)
 *   RTT          minimum connect time over the window (a path question);
 *                its median over the group's samples to the served PoP for
 *                user impact, from the network rollups where the window allows
 *   served PoP   the PoP that answered most of the group's samples
 *   nearest PoP  the closest PoP of that target with known coordinates
 *   GI           2·(d_served − d_nearest)/200 ms; below 4 ms it is metro noise
 *   LI           RTT − 3·d_nearest/200 ms
 *   peer RTT     the best RTT another ASN in the same metro gets to the target
 *
 * A finding is `far_pop` when GI ≥ 4 ms, else `slow_path` when LI ≥ 30 ms;
 * its severity is the worse of GI's (warn ≥ 10, high ≥ 20) and LI's (warn
 * ≥ 30, high ≥ 60, severe ≥ 100), `info` below both. It needs ≥ `minSamples` connect
 * samples; with fewer than 3 probes it says so (`confidence: "low"`).
 * `first_seen` is the start of the hour from which the condition held without a
 * break, read from the hour rollup within the lookback (so a week of history
 * costs a week of hours, not of minutes); `last_seen` the end of the last
 * minute (or hour) behind it.
 */
import { haversineSql, thresholds, type Severity } from '../../probe/geo/distance.ts'
import type { Store } from '../store/client.ts'
import { rangeRowsSql, type RangeTiers } from './range.ts'
import { analysisTables, type AnalysisTables } from './tables.ts'
import { clickhouseTime } from '../store/time.ts'

export interface FindingsQuery {
  /** Start of the window the finding is judged on. */
  since: Date
  target?: string | undefined
  /** Lowest severity to return (default warn). */
  severity?: Severity | undefined
  minSamples?: number
  /** How far back `first_seen` may reach. */
  lookbackHours?: number
}

export interface Finding {
  id: string
  kind: 'far_pop' | 'slow_path'
  severity: Severity
  confidence: 'normal' | 'low'
  target: string
  asn: number
  isp: string
  metro: string
  country: string
  served_pop: string
  served_km: number | null
  nearest_pop: string
  nearest_km: number
  gi_ms: number | null
  li_ms: number
  rtt_ms: number
  rtt_p50_ms: number | null
  peer_rtt_ms: number | null
  peer_asn: number | null
  samples: number
  probes: number
  first_seen: string
  last_seen: string
}

export interface UnknownPop {
  target: string
  pop: string
  samples: number
}

const severities: Severity[] = ['info', 'warn', 'high', 'severe']

/** Where the findings SQL takes its inputs: the API binds query parameters, a Grafana panel its macros. */
export interface FindingsInputs {
  /** Start of the judged window, a DateTime expression. */
  since: string
  /** How far back `first_seen` may reach, a DateTime expression. */
  lookback: string
  minSamples: string
  /** An Array(String) expression: the severities to return. */
  severities: string
  /** `AND …` on the rollups' target column, or ''. */
  targetFilter: string
  /** A SQL boolean: the window is long, read from hours and days rather than minutes and hours (range.ts). */
  hourly: string
}

/** Windows longer than this are judged on hours and days rather than minutes, as the dashboards do. */
export const longWindowMs = 2 * 86_400_000

export const findingsApiInputs = (targetFilter: boolean, long: boolean): FindingsInputs => ({
  since: "{since:DateTime64(3, 'UTC')}",
  lookback: "{lookback:DateTime64(3, 'UTC')}",
  minSamples: '{min_samples:UInt32}',
  severities: '{severities:Array(String)}',
  targetFilter: targetFilter ? 'AND target = {target:String}' : '',
  hourly: long ? '1' : '0',
})

/**
 * The SQL of the findings, for the API and the Findings dashboard alike. It
 * must run with `prefer_column_name_to_alias = 1`: aliases such as `asn` would
 * otherwise shadow the columns they are computed from.
 */
export function findingsSql(tables: AnalysisTables, inputs: FindingsInputs): string {
  const { networkHours, probes, locations } = tables
  const { since, lookback, minSamples, severities, targetFilter } = inputs
  const tiers = (hours: string, days: string): RangeTiers => ({ ...tables, hours, days, hourly: inputs.hourly })
  const bounds = { from: since, where: `AND pop != '' ${targetFilter}` }
  const window = rangeRowsSql(tiers(tables.hours, tables.days), ['target', 'probe', 'pop', 'asn', 'isp', 'country', 'city', 'samples', 'connect_samples', 'connect_min'], bounds)
  const networkWindow = rangeRowsSql(tiers(tables.networkHours, tables.networkDays), ['target', 'pop', 'asn', 'country', 'city', 'connect_q'], bounds)
  return `
WITH
per_probe_pop AS (
  SELECT target, probe, pop,
    any(asn) AS asn, any(isp) AS isp, any(country) AS country, any(city) AS city,
    sum(samples) AS n, sum(connect_samples) AS nc, min(connect_min) AS rtt_min,
    max(period_end) AS last_end
  FROM ${window}
  GROUP BY target, probe, pop
),
-- Each group's median per PoP, over its samples: merging t-digests is what a summary spends its
-- time on, and the network rollups hold one per network, not one per probe (a week at 100M rows:
-- 0.7 s of digest merges per probe, about a fifth of that per network).
pop_medians AS (
  SELECT target, asn, if(city != '', city, country) AS metro, pop,
    quantilesTDigestMerge(0.05, 0.25, 0.5, 0.75, 0.95)(connect_q)[3] AS p50
  FROM ${networkWindow}
  GROUP BY target, asn, metro, pop
),
-- A probe's RTT is the one to the PoP that served it, not its best over every PoP it touched.
per_probe AS (
  SELECT target, probe,
    any(asn) AS asn, any(isp) AS isp, any(country) AS country, any(city) AS city,
    sum(n) AS n, argMax(nc, n) AS nc, argMax(pop, n) AS served, argMax(rtt_min, n) AS rtt_min,
    max(last_end) AS last_end
  FROM per_probe_pop
  GROUP BY target, probe
  HAVING argMax(nc, n) > 0
),
located AS (
  SELECT pp.*, pr.lat AS plat, pr.lon AS plon
  FROM per_probe AS pp
  INNER JOIN (SELECT probe, assumeNotNull(lat) AS lat, assumeNotNull(lon) AS lon FROM ${probes} FINAL WHERE lat IS NOT NULL AND lon IS NOT NULL) AS pr
  ON pp.probe = pr.probe
),
groups AS (
  SELECT target, asn, if(city != '', city, country) AS metro,
    any(isp) AS isp, any(country) AS country_code,
    count() AS probe_count, sum(n) AS sample_count, sum(nc) AS connect_count,
    min(rtt_min) AS rtt,
    avg(plat) AS glat, avg(plon) AS glon,
    topKWeighted(1)(served, n)[1] AS served_pop,
    max(last_end) AS last_end
  FROM located
  GROUP BY target, asn, metro
  HAVING connect_count >= ${minSamples}
),
candidates AS (
  SELECT target, groupArray(pop) AS pops, groupArray(assumeNotNull(lat)) AS lats, groupArray(assumeNotNull(lon)) AS lons
  FROM ${locations} FINAL
  WHERE lat IS NOT NULL AND lon IS NOT NULL
  GROUP BY target
),
-- Each CTE is read once: ClickHouse inlines a CTE wherever it is named, so a second
-- reference would compute it (and everything under it) again.
peered AS (
  SELECT *, groupArray((asn, rtt)) OVER (PARTITION BY target, metro) AS peer_list FROM groups
),
scored AS (
  SELECT g.*,
    arrayMap((la, lo) -> ${haversineSql('g.glat', 'g.glon', 'la', 'lo')}, c.lats, c.lons) AS kms,
    arrayMin(kms) AS nearest_km,
    c.pops[indexOf(kms, nearest_km)] AS nearest_pop,
    indexOf(c.pops, g.served_pop) AS served_index,
    if(served_index > 0, kms[served_index], NULL) AS served_km,
    if(served_index > 0, greatest(0, 2 * (kms[served_index] - nearest_km) / 200), NULL) AS gi,
    g.rtt - 3 * nearest_km / 200 AS li
  FROM peered AS g
  INNER JOIN candidates AS c ON g.target = c.target
  WHERE length(c.pops) > 0
),
hourly AS (
  SELECT target, asn, metro, groupArray(hour) AS hours, groupArray(hour_pop) AS hour_pops, groupArray(hour_rtt) AS hour_rtts
  FROM (
    -- The hour's PoP is the one that answered most (argMax over per-PoP sums: topKWeighted per group is far slower).
    SELECT target, asn, metro, hour, argMax(pop, n) AS hour_pop, min(rtt) AS hour_rtt
    FROM (
      -- From the network hours: a group's sums per PoP and hour are the same as over its probes' hours,
      -- which held four times the rows in the 100M-row bench (0.1 s of this query's 0.8 there).
      SELECT target, asn, if(city != '', city, country) AS metro, hour, pop, sum(samples) AS n, min(connect_min) AS rtt
      FROM ${networkHours}
      WHERE hour >= toStartOfHour(${lookback}) AND pop != '' ${targetFilter}
      GROUP BY target, asn, metro, hour, pop
    )
    GROUP BY target, asn, metro, hour
  )
  GROUP BY target, asn, metro
),
judged AS (
  SELECT s.*,
    arrayFilter(x -> x.1 != s.asn, s.peer_list) AS others,
    if(empty(others), NULL, arrayMin(arrayMap(x -> x.2, others))) AS peer_rtt,
    if(empty(others), NULL, arraySort(x -> x.2, others)[1].1) AS peer_asn,
    -- GI under ${thresholds.giNoiseMs} ms is metro noise; from there on the PoP is "far" (info below ${thresholds.giWarnMs} ms).
    multiIf(ifNull(gi, 0) >= ${thresholds.giNoiseMs}, 'far_pop', li >= ${thresholds.liWarnMs}, 'slow_path', 'ok') AS kind,
    multiIf(ifNull(gi, 0) >= ${thresholds.giHighMs}, 2, ifNull(gi, 0) >= ${thresholds.giWarnMs}, 1, 0) AS gi_rank,
    multiIf(li >= ${thresholds.liSevereMs}, 3, li >= ${thresholds.liHighMs}, 2, li >= ${thresholds.liWarnMs}, 1, 0) AS li_rank,
    ['info', 'warn', 'high', 'severe'][greatest(gi_rank, li_rank) + 1] AS severity,
    -- An hour is clean when the condition did not hold in it: another PoP served, or the RTT was fine.
    arrayMap((pop_of_hour, rtt_of_hour) -> if(kind = 'far_pop', pop_of_hour != s.served_pop, rtt_of_hour - 3 * s.nearest_km / 200 < ${thresholds.liWarnMs}),
      h.hour_pops, h.hour_rtts) AS clean,
    arrayFilter((hour, ok) -> ok, h.hours, clean) AS clean_hours,
    -- The start of the unbroken run of bad hours that reaches the present; if the latest hour
    -- was clean again, the finding rests on the window alone and starts with it.
    arrayFilter((hour, ok) -> NOT ok AND (empty(clean_hours) OR hour > arrayMax(clean_hours)), h.hours, clean) AS bad_run,
    if(empty(bad_run), toStartOfHour(${since}), arrayMin(bad_run)) AS first_seen
  FROM scored AS s
  LEFT JOIN hourly AS h ON s.target = h.target AND s.asn = h.asn AND s.metro = h.metro
)
SELECT
  lower(hex(cityHash64(j.kind, j.target, j.asn, j.metro))) AS id,
  j.kind AS kind, j.severity AS severity,
  if(j.probe_count >= 3, 'normal', 'low') AS confidence,
  j.target AS target, j.asn AS asn, j.isp AS isp, j.metro AS metro, j.country_code AS country,
  j.served_pop AS served_pop, round(j.served_km, 1) AS served_km,
  j.nearest_pop AS nearest_pop, round(j.nearest_km, 1) AS nearest_km,
  round(j.gi, 2) AS gi_ms, round(j.li, 2) AS li_ms,
  round(j.rtt, 3) AS rtt_ms, if(m.pop = '', NULL, round(m.p50, 3)) AS rtt_p50_ms,
  round(j.peer_rtt, 3) AS peer_rtt_ms, j.peer_asn AS peer_asn,
  j.sample_count AS samples, j.probe_count AS probes,
  formatDateTime(j.first_seen, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen,
  formatDateTime(least(now(), j.last_end), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen
FROM judged AS j
LEFT JOIN pop_medians AS m ON j.target = m.target AND j.asn = m.asn AND j.metro = m.metro AND j.served_pop = m.pop
WHERE j.kind != 'ok' AND indexOf(${severities}, j.severity) > 0
ORDER BY indexOf(['severe', 'high', 'warn', 'info'], j.severity), coalesce(j.gi, 0) + greatest(j.li, 0) DESC`
}

export async function findFindings(store: Store, query: FindingsQuery): Promise<Finding[]> {
  const minimum = severities.indexOf(query.severity ?? 'warn')
  const lookbackHours = query.lookbackHours ?? 24 * 7
  const lookback = new Date(Math.min(query.since.getTime(), Date.now() - lookbackHours * 3_600_000))
  const long = Date.now() - query.since.getTime() > longWindowMs
  const tables = analysisTables(store)
  const result = await store.client('query').query({
    query: findingsSql(tables, findingsApiInputs(query.target !== undefined, long)),
    query_params: {
      since: clickhouseTime(query.since),
      lookback: clickhouseTime(lookback),
      min_samples: query.minSamples ?? 10,
      target: query.target ?? '',
      severities: severities.slice(Math.max(0, minimum)),
    },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, prefer_column_name_to_alias: 1 },
  })
  return result.json<Finding>()
}

/** PoP codes the fleet saw in the window that no catalog source could place. */
export async function unknownPops(store: Store, since: Date, target?: string): Promise<UnknownPop[]> {
  const tables = analysisTables(store)
  const result = await store.client('query').query({
    query: `SELECT r.target AS target, r.pop AS pop, sum(r.samples) AS samples
      FROM ${tables.minutes} AS r
      INNER JOIN (SELECT target, pop FROM ${tables.locations} FINAL WHERE lat IS NULL) AS u
      ON r.target = u.target AND r.pop = u.pop
      WHERE r.minute >= {since:DateTime64(3, 'UTC')} ${target === undefined ? '' : 'AND r.target = {target:String}'}
      GROUP BY r.target, r.pop ORDER BY sum(r.samples) DESC`,
    query_params: { since: clickhouseTime(since), target: target ?? '' },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, prefer_column_name_to_alias: 1 },
  })
  return result.json<UnknownPop>()
}
