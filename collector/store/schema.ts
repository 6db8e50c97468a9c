/**
 * The schema, as data, rendered two ways from one definition: plain tables
 * for a single node (and chDB), or the `ON CLUSTER` overlay for a cluster —
 * Replicated*MergeTree `_local` tables with a Distributed table of the plain
 * name on top, sharded by probe. Queries name only the plain tables, so they
 * run unchanged on both.
 */

export interface SchemaContext {
  database: string
  /** Render the ON CLUSTER overlay for this cluster instead of single-node tables. */
  cluster?: string | undefined
  /** How long raw measurements are kept; the per-minute rollup keeps three times as long. */
  retentionDays: number
}

export interface TableDefinition {
  name: string
  columns: string[]
  /** Engine without the Replicated prefix: MergeTree, ReplacingMergeTree, AggregatingMergeTree; or Null, which stores nothing and so is never replicated. */
  engine: string
  engineArgs?: string
  partitionBy?: string
  /** Every engine but Null has one. */
  orderBy?: string
  ttl?: (context: SchemaContext) => string
  /** Data-skipping indexes, as `name expression TYPE type GRANULARITY n`. */
  indexes?: string[]
  settings?: string
  /** Shard key of the Distributed table in the cluster overlay. */
  shardBy: string
}

export interface ViewDefinition {
  name: string
  to: string
  /** SELECT … FROM {from}: `from` is the source table's name, replaced per rendering. */
  from: string
  select: (from: string) => string
}

export const defaultRetentionDays = 400

/** A quoted identifier: database names come from the store URL. */
export function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

export function qualified(context: Pick<SchemaContext, 'database'>, table: string): string {
  return `${ident(context.database)}.${ident(table)}`
}

const phase = (name: string) => `${name} Nullable(Float64) CODEC(Gorilla, ZSTD(1))`

/** Quantile levels of the rollup's digests: SmokePing-style bands and the median. */
export const rollupQuantiles = '0.05, 0.25, 0.5, 0.75, 0.95'

/**
 * The raw table merges about twenty parts of a size at once instead of five
 * (ClickHouse's `merge_selector_base`, whose default is 5).
 *
 * Why: every merge writes its rows again, and as a month's partition grows
 * it grows by levels, each of which writes every row once more. With the
 * collector's 50,000-row inserts at a fleet's shape, ClickHouse's default
 * wrote each row again 1.7 times by 2M rows and 3.1 times by 24M (3.3 µs of
 * the engine's CPU a row); at 20, 0.85 and 1.6 times (2.0 µs): half, since a
 * merge now takes about four times as many parts (test/bench/raw-merges.ts).
 * The cost is more parts at a time, up to about twenty a level, which the
 * raw table's readers hardly feel, since each reads a narrow range of its
 * key or of its minmax index: a resent batch's stored-id lookup took 10.1 ms
 * among 22 parts against 9.1 ms among 9. The rollups keep the default: the
 * dashboards read every part of them.
 */
export const rawMergeSettings = 'merge_selector_base = 20'

export const measurementsTable: TableDefinition = {
  name: 'measurements',
  columns: [
    'id UUID',
    "ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
    'probe LowCardinality(String)',
    'target LowCardinality(String)',
    'kind LowCardinality(String)',
    'url String CODEC(ZSTD(3))',
    'address LowCardinality(String)',
    'pop LowCardinality(Nullable(String))',
    'pop_raw Nullable(String) CODEC(ZSTD(3))',
    'status Nullable(UInt16)',
    'error LowCardinality(Nullable(String))',
    phase('dns_ms'),
    phase('connect_ms'),
    phase('tls_ms'),
    phase('ttfb_ms'),
    phase('total_ms'),
    phase('server_ms'),
    // Joined from the probe registry at ingest: analysis groups by these without a join.
    'asn UInt32',
    'isp LowCardinality(String)',
    'country LowCardinality(String)',
    'city LowCardinality(String)',
    'lat Nullable(Float32)',
    'lon Nullable(Float32)',
    // Stamped by the collector when the request arrived (the store's clock before migration 8): what the
    // scheduled minute fold reads its windows by, so a late row from a spool is folded when it arrives.
    "received_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))",
    "collector LowCardinality(String) DEFAULT '' COMMENT 'the folding collector that received the row (each folds only its own); empty when the minute view counted it'",
  ],
  indexes: ['received_at_minmax received_at TYPE minmax GRANULARITY 1'],
  // Replacing on the full key: the collector drops retried records before they
  // are written, and this collapses any that two collectors raced to write.
  engine: 'ReplacingMergeTree',
  partitionBy: 'toYYYYMM(ts)',
  orderBy: '(target, probe, ts, id)',
  ttl: (context) => `toDateTime(ts) + INTERVAL ${context.retentionDays} DAY`,
  settings: rawMergeSettings,
  shardBy: 'cityHash64(probe)',
}

/** A column definition as text parsing takes it fastest: `LowCardinality(T)` as `T`, and no codec, which only storage needs. */
function parsedPlain(definition: string): string {
  return definition
    .replace(/ CODEC\((?:[^()]|\([^()]*\))*\)/, '')
    .replace(/^(\S+) LowCardinality\(((?:[^()]|\([^()]*\))*)\)/, '$1 $2')
}

/**
 * Where the collector inserts measurements: a Null table with the raw
 * table's columns, LowCardinality ones as plain strings, whose view hands
 * each inserted block on to the raw table.
 *
 * Why: the engine parses a text field into a LowCardinality column one value
 * at a time, through the column's dictionary, and the raw table has ten of
 * them. Parsed as plain strings and converted a block at a time on the way
 * into the raw table, 1M rows at a fleet's shape took 1.01 rather than 3.19
 * µs of engine CPU a row to parse, and a whole insert 3.9–4.0 rather than
 * 6.0–6.4 µs (README, "Collector ingest").
 *
 * A column added to the raw table must be added here too, and the view made
 * again, or the view will not carry it.
 */
export const measurementsInputTable: TableDefinition = {
  name: 'measurements_input',
  columns: measurementsTable.columns.map(parsedPlain),
  engine: 'Null',
  shardBy: measurementsTable.shardBy,
}

export const measurementsInputView: ViewDefinition = {
  name: 'measurements_input_mv',
  from: measurementsInputTable.name,
  to: measurementsTable.name,
  select: (from) => `SELECT ${measurementsTable.columns.map((column) => column.split(' ', 1)[0]).join(', ')}\nFROM ${from}`,
}

/**
 * Connect-time histogram buckets: key k counts samples of at most 2^(k/2) ms,
 * so each bucket is √2 wider than the one below (0.125 ms … 32 s). Fixed
 * bounds make buckets summable across probes, minutes and hours, which a
 * t-digest's quantiles are not; the latency heatmap reads them.
 */
export const histogramBucketSql = (column: string) => `toInt8(least(30, greatest(-6, ceil(2 * log2(greatest(${column}, 0.001))))))`

/** Where the probe stands, carried along by the probe rollups. */
const probePlace = [
  'asn SimpleAggregateFunction(any, UInt32)',
  'isp SimpleAggregateFunction(any, LowCardinality(String))',
  'country SimpleAggregateFunction(any, LowCardinality(String))',
  'city SimpleAggregateFunction(any, LowCardinality(String))',
]

/** What every rollup counts; the minute rollup sums raw rows into them, the coarser ones merge finer rows. */
const measureCounts = [
  'samples SimpleAggregateFunction(sum, UInt64)',
  'errors SimpleAggregateFunction(sum, UInt64)',
  'connect_samples SimpleAggregateFunction(sum, UInt64)',
  "connect_min SimpleAggregateFunction(min, Float64) COMMENT 'inf when no sample connected'",
]

/**
 * Quantile digests, held only where quantiles are read: the minute rollup
 * (short ranges, per probe or fleet-wide) and the network rollups (long
 * ranges). The hour and day rollups per probe have none since migration 7:
 * nothing read them, and at a fleet's shape, where an insert's rows hardly
 * fold, building and merging a t-digest pair per row in every tier was 40 %
 * of the engine's cost of a measurement.
 */
const measureDigests = [
  `connect_q AggregateFunction(quantilesTDigest(${rollupQuantiles}), Nullable(Float64))`,
  `total_q AggregateFunction(quantilesTDigest(${rollupQuantiles}), Nullable(Float64))`,
]

/** The digest columns' names, which migration 7 drops from the hour and day rollups per probe. */
export const digestColumns = measureDigests.map((column) => column.split(' ')[0] as string)

/** Added by migration 4: the heatmap's buckets and the fleet dashboard's errors by code. */
const rollupBreakdowns = [
  "connect_hist SimpleAggregateFunction(sumMap, Map(Int8, UInt64)) COMMENT 'bucket k counts connects of at most 2^(k/2) ms'",
  "errors_by_code SimpleAggregateFunction(sumMap, Map(String, UInt64)) COMMENT 'failed samples per error code'",
]

/** `period` names the time bucket of either rollup, so one dashboard query reads whichever the time range calls for. */
const periodAlias = (column: string) => `period DateTime('UTC') ALIAS ${column}`

/**
 * A rollup per probe and `time` period (minute, hour, day): one row per
 * ⟨target, period, probe, PoP⟩. The tiers differ in nothing else but the
 * minute's digests, so a query can read whichever its range calls for, or
 * several of them in one UNION.
 */
function probeRollup(name: string, time: string, { digests, extraColumns = [] }: { digests: boolean; extraColumns?: readonly string[] }): TableDefinition {
  const dimensions = ['target LowCardinality(String)', 'probe LowCardinality(String)', popColumn]
  const aggregates = [...probePlace, ...measureCounts, ...(digests ? measureDigests : [])]
  return rollupTier(name, time, [...dimensions, ...aggregates, ...rollupBreakdowns, ...extraColumns], `(target, ${time}, probe, pop)`, 'cityHash64(probe)')
}

const popColumn = "pop LowCardinality(String) COMMENT 'empty when the PoP was not identified'"

/** What every rollup tier shares: its period column first, monthly partitions, the rollups' TTL, `period` as an alias. */
function rollupTier(name: string, time: string, columns: readonly string[], orderBy: string, shardBy: string): TableDefinition {
  return {
    name,
    columns: [`${time} DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))`, ...columns, periodAlias(time)],
    engine: 'AggregatingMergeTree',
    partitionBy: `toYYYYMM(${time})`,
    orderBy,
    ttl: (context) => `${time} + INTERVAL ${context.retentionDays * 3} DAY`,
    settings: rollupSettings,
    shardBy,
  }
}

/**
 * A scheduled fold (collector/rollups/minute-fold.ts) that a crash cut short
 * is run again with the same deduplication token; this window is what lets a
 * single node's tables recognise it (replicated ones keep their own). Rows
 * from materialized views are never deduplicated, so views-fed rollups count
 * as before.
 */
export const rollupSettings = 'non_replicated_deduplication_window = 1000'

export const rollupTable = probeRollup('measurements_1m', 'minute', { digests: true })

/** The minute rollup's stored columns (not the `period` alias): what a minute fold writes. */
const minuteRollupDefinitions = rollupTable.columns.filter((column) => !column.startsWith('period '))

/** Their names, in the table's order. */
export const minuteRollupColumns = minuteRollupDefinitions.map((column) => column.split(' ', 1)[0] as string)

/**
 * What the minute rollup counts, each as an aggregate over raw rows: the
 * minute view sums a minute's rows into them, and a short range's summary
 * its rows not folded yet (range.ts).
 */
export const rawMeasures = {
  samples: 'count()',
  errors: 'countIf(error IS NOT NULL)',
  connect_samples: 'count(connect_ms)',
  connect_min: 'min(ifNull(connect_ms, inf))',
  connect_q: `quantilesTDigestState(${rollupQuantiles})(connect_ms)`,
  total_q: `quantilesTDigestState(${rollupQuantiles})(total_ms)`,
  connect_hist: `sumMapIf(map(${histogramBucketSql('ifNull(connect_ms, 0)')}, toUInt64(1)), connect_ms IS NOT NULL)`,
  errors_by_code: "sumMapIf(map(toString(ifNull(error, '')), toUInt64(1)), error IS NOT NULL)",
} as const

export const rollupView: ViewDefinition = {
  name: 'measurements_1m_mv',
  to: 'measurements_1m',
  from: 'measurements',
  select: (from) => `SELECT
  toStartOfMinute(ts) AS minute,
  target,
  probe,
  ifNull(pop, '') AS pop,
  any(asn) AS asn,
  any(isp) AS isp,
  any(country) AS country,
  any(city) AS city,
  ${Object.entries(rawMeasures)
    .map(([name, aggregate]) => `${aggregate} AS ${name}`)
    .join(',\n  ')}
FROM ${from}
GROUP BY minute, target, probe, pop`,
}

/** A plain view: a stored SELECT over the store's (plain-named) tables, read like a table. */
export interface PlainViewDefinition {
  name: string
  select: (context: SchemaContext) => string
}

/** The bound a view reads where nothing bounds it. */
const farFuture = "toDateTime64('2299-12-31 00:00:00', 3, 'UTC')"

/**
 * Rows a folding collector has received and not yet folded (see
 * collector/rollups/minute-fold.ts): each one's, from the end of its last
 * done window. A collector that folds stamps its rows with its name; one
 * whose minute view counts them stamps none, so they are never here. The
 * first bound is a constant (a scalar subquery), so the minmax index on
 * `received_at` skips every older part; collectors silent for a day are
 * left out of it, or one long gone would make every query read a day.
 */
const unfoldedRows = (context: SchemaContext) => {
  const marks = `SELECT toString(collector) AS collector, max(folded_to) AS folded_to FROM ${qualified(context, rollupFoldsTable.name)} WHERE state = 'done' GROUP BY collector`
  const foldedTo = `(SELECT mapFromArrays(groupArray(collector), groupArray(folded_to)) FROM (${marks}))`
  return `${qualified(context, measurementsTable.name)}
  WHERE collector != ''
    AND received_at >= (SELECT ifNull(minOrNull(folded_to), ${farFuture}) FROM (${marks}) WHERE folded_to > now() - INTERVAL 1 DAY)
    AND mapContains(${foldedTo}, collector) AND received_at >= ${foldedTo}[collector]`
}

/** The minute rollup's columns, as its view writes them, and `period`. */
const minuteColumns = `${minuteRollupColumns.join(', ')}, minute AS period`

/**
 * The minute rollup as the dashboards and analysis read it: the rollup,
 * and the rows received since the last fold aggregated the same way (the
 * minute view's own SELECT). With the minute view feeding the rollup there
 * are no such rows, and this is the rollup. Folded on a schedule, it still
 * shows the last minute, not a gap until the next fold.
 */
export const liveMinutesView: PlainViewDefinition = {
  name: 'measurements_1m_live',
  select: (context) => `SELECT ${minuteColumns} FROM ${qualified(context, rollupTable.name)}
UNION ALL
SELECT ${minuteColumns} FROM (${rollupView.select(unfoldedRows(context))})`,
}

/**
 * The minute rows a folding collector has written and not yet folded into
 * the hour rollups (collector/rollups/hour-fold.ts): each minute fold writes
 * its rows here, tagged with its collector and its window's end, and a view
 * copies them on into the minute rollup. Every `rollups.hour_fold_every_s`
 * the collector folds its rows here into the hour rollups at once, and drops
 * them by partition: one per collector and minute fold, so dropping is
 * cheap and nothing here is ever merged.
 *
 * Why: fed by views on every minute fold, the hour and day tiers got about
 * as many rows as the minute rollup at a fleet's shape (a fold holds one or
 * two minutes of each probe and target), all of them merged again in the
 * background (README, "Collector ingest").
 */
export const pendingMinutesTable: TableDefinition = {
  name: 'measurements_1m_pending',
  columns: [
    ...minuteRollupDefinitions,
    "collector LowCardinality(String) COMMENT 'the folding collector whose minute fold wrote the row'",
    "folded_to DateTime64(3, 'UTC') COMMENT 'the end of the minute fold''s window: the rows of one fold, and its partition'",
  ],
  engine: 'MergeTree',
  partitionBy: '(collector, folded_to)',
  orderBy: 'tuple()',
  // A minute fold run again after a crash writes the same block with the same token.
  settings: rollupSettings,
  shardBy: rollupTable.shardBy,
}

export const pendingMinutesView: ViewDefinition = {
  name: 'measurements_1m_pending_mv',
  from: pendingMinutesTable.name,
  to: rollupTable.name,
  select: (from) => `SELECT ${minuteRollupColumns.join(', ')}\nFROM ${from}`,
}

/**
 * The hour fold's ledger, as `rollup_folds` is the minute fold's: per
 * collector, up to which minute fold (`folded_to`, its window's end) its
 * pending minutes were folded into the hour rollups. Recorded as started
 * before the fold and done after the pending rows are dropped, so a fold a
 * crash cut short is run again over the same rows, with the same
 * deduplication tokens.
 */
export const hourFoldsTable: TableDefinition = {
  name: 'rollup_hour_folds',
  columns: [
    'collector LowCardinality(String)',
    "folded_to DateTime64(3, 'UTC')",
    "state Enum8('started' = 1, 'done' = 2)",
    "minute_rows UInt64 COMMENT 'pending minute rows the fold read; 0 on the started row'",
    "at DateTime64(3, 'UTC') DEFAULT now64(3)",
  ],
  engine: 'MergeTree',
  orderBy: '(collector, folded_to, state)',
  ttl: (context) => `toDateTime(at) + INTERVAL ${context.retentionDays} DAY`,
  shardBy: 'cityHash64(collector)',
}

/**
 * One row, `until`: the hour rollups hold every stored measurement of the
 * hours before it, so a range may read those whole hours from them rather
 * than sixty minute rows each (range.ts). It is the hour of the oldest
 * measurement not folded yet, a late one from a spool included; with the
 * minute view counting every insert there is none, and it is far in the
 * future. A probe whose clock runs hours behind holds it back as far: the
 * summaries then read more minutes, as before migration 10, and stay exact.
 * Since migration 11 it is also the hour of the oldest minute a folding
 * collector has not folded into the hour rollups yet (its pending minutes;
 * as with the unfolded rows, those of a collector silent for a day are left out).
 * (A fold that is running can be counted twice while it runs, in the hours
 * as in the live minutes.)
 */
export const settledHoursView: PlainViewDefinition = {
  name: 'measurements_1h_settled',
  select: (context) => `SELECT least(
  (SELECT ifNull(toStartOfHour(minOrNull(ts), 'UTC'), ${farFuture}) FROM ${unfoldedRows(context)}),
  (SELECT ifNull(toStartOfHour(minOrNull(minute), 'UTC'), ${farFuture}) FROM ${qualified(context, pendingMinutesTable.name)} WHERE folded_to > now() - INTERVAL 1 DAY)
) AS until`,
}

/**
 * The rows not folded yet, one per measurement, as a summary or a
 * fleet-wide panel reads them: grouped by its own columns, not by minute,
 * probe and PoP first as the live minutes are (range.ts, `unfoldedAggregates`).
 * `pop` is '' where the rollups have it so, and `period` is the minute, as a
 * minute row's.
 */
export const unfoldedView: PlainViewDefinition = {
  name: 'measurements_unfolded',
  select: (context) => `SELECT * REPLACE (ifNull(pop, '') AS pop), toStartOfMinute(ts) AS period
FROM ${unfoldedRows(context)}`,
}

/**
 * Where an hour row's data ends, as `last_hour` is a day row's: a short
 * range reads its whole hours from the hour rollups (range.ts), and a probe
 * last seen at 09:12 must not read as seen until 10:00. Rows from before
 * migration 10 have none (the epoch) and are read as ending with their hour.
 * No DEFAULT from `hour`: the embedded engine fails to compute one for parts
 * written before the column existed.
 */
const lastMinute = "last_minute SimpleAggregateFunction(max, DateTime('UTC')) COMMENT 'the hour''s latest minute with samples; the epoch on rows from before migration 10'"

/** The columns migration 10 adds to the hour rollups. */
export const lastMinuteColumns = [lastMinute]

/**
 * The hour rollup: what a week or a month of dashboards and the findings'
 * history read, sixty times fewer rows than the minute rollup. It is fed from
 * the minute rollup's inserts (a cascaded view), merging their states, so
 * ingest pays for it on already-aggregated blocks.
 */
export const hourlyRollupTable = probeRollup('measurements_1h', 'hour', { digests: false, extraColumns: [lastMinute] })

/**
 * The counts, the digests when the tier has them, and the breakdowns, merged
 * from finer rows into coarser ones (in the tables' column order: a backfill
 * inserts by position): what every cascaded rollup view selects.
 */
const mergedMeasures = (digests: boolean) => `sum(samples) AS samples,
  sum(errors) AS errors,
  sum(connect_samples) AS connect_samples,
  min(connect_min) AS connect_min,${
    digests
      ? `
  quantilesTDigestMergeState(${rollupQuantiles})(connect_q) AS connect_q,
  quantilesTDigestMergeState(${rollupQuantiles})(total_q) AS total_q,`
      : ''
  }
  sumMap(connect_hist) AS connect_hist,
  sumMap(errors_by_code) AS errors_by_code`

/** A coarser period computed from a finer one's column, with any columns only the coarser tier has (selected last, as the table has them: a backfill inserts by position). */
interface PeriodSpec {
  expression: string
  name: string
  extra?: string
}

/** A view's period column, as the source has it or computed from a finer one. */
const periodSelect = ({ expression, name }: PeriodSpec) => (expression === name ? name : `${expression} AS ${name}`)

/** The columns only the coarser tier has, after the merged measures (see PeriodSpec). */
const extraSelect = ({ extra }: PeriodSpec) => (extra ? `,\n  ${extra}` : '')

/** SELECT list that merges a probe's minute rows (or hour rows) into coarser ones, which hold no digests. */
const mergeRollupSql = (from: string, period: PeriodSpec) => `SELECT
  ${periodSelect(period)},
  target,
  probe,
  pop,
  any(asn) AS asn,
  any(isp) AS isp,
  any(country) AS country,
  any(city) AS city,
  ${mergedMeasures(false)}${extraSelect(period)}
FROM ${from}
GROUP BY ${period.name}, target, probe, pop`

const hourFromMinute: PeriodSpec = { expression: 'toStartOfHour(minute)', name: 'hour', extra: 'max(minute) AS last_minute' }

export const hourlyRollupView: ViewDefinition = {
  name: 'measurements_1h_mv',
  to: 'measurements_1h',
  from: 'measurements_1m',
  select: (from) => mergeRollupSql(from, hourFromMinute),
}

/**
 * The hour rollup without the probe: one row per ⟨target, hour, PoP, network,
 * place⟩. The dashboards' fleet-wide panels (quantile bands, heatmap, PoP
 * shares, rates, errors) over long ranges read it; merging t-digests is what
 * those queries spend their time on, and here there is one per network, not
 * one per probe. It keeps every column the dashboards filter on.
 */
function networkRollup(name: string, time: string, extraColumns: readonly string[] = []): TableDefinition {
  const dimensions = [
    'target LowCardinality(String)',
    popColumn,
    'country LowCardinality(String)',
    'asn UInt32',
    'city LowCardinality(String)',
    'isp SimpleAggregateFunction(any, LowCardinality(String))',
  ]
  return rollupTier(name, time, [...dimensions, ...measureCounts, ...measureDigests, ...rollupBreakdowns, ...extraColumns], `(target, ${time}, pop, country, asn, city)`, 'cityHash64(target)')
}

export const networkRollupTable = networkRollup('measurements_1h_net', 'hour', [lastMinute])

/** SELECT that merges probe rows into network rows of the same period, or network rows into coarser ones. */
const networkRollupSql = (from: string, period: PeriodSpec) => `SELECT
  ${periodSelect(period)},
  target,
  pop,
  country,
  asn,
  city,
  any(isp) AS isp,
  ${mergedMeasures(true)}${extraSelect(period)}
FROM ${from}
GROUP BY target, ${period.name}, pop, country, asn, city`

/**
 * Fed from the minute rollup, whose rows carry the digests the hour rollup
 * per probe does not keep (before migration 7 it was fed from that).
 */
export const networkRollupView: ViewDefinition = {
  name: 'measurements_1h_net_mv',
  to: 'measurements_1h_net',
  from: 'measurements_1m',
  select: (from) => networkRollupSql(from, hourFromMinute),
}

/**
 * The day rollups, per probe and per network: what whole-range summaries over
 * a week or more read for the range's full days (findings, the per target ×
 * PoP table), with the hour rollups for the partial days at either end. A
 * week is then ~7 day rows and ≤ 48 hour rows per group instead of 168 hour
 * rows, and merging t-digests row by row is what those queries spend on.
 */
const lastHour = "last_hour SimpleAggregateFunction(max, DateTime('UTC')) COMMENT 'the day''s latest hour with samples: where a range''s data ends'"

export const dailyRollupTable = probeRollup('measurements_1d', 'day', { digests: false, extraColumns: [lastHour] })

const dayFromHour: PeriodSpec = { expression: 'toStartOfDay(hour)', name: 'day', extra: 'max(hour) AS last_hour' }

export const dailyRollupView: ViewDefinition = {
  name: 'measurements_1d_mv',
  to: 'measurements_1d',
  from: 'measurements_1h',
  select: (from) => mergeRollupSql(from, dayFromHour),
}

export const dailyNetworkRollupTable = networkRollup('measurements_1d_net', 'day', [lastHour])

export const dailyNetworkRollupView: ViewDefinition = {
  name: 'measurements_1d_net_mv',
  to: 'measurements_1d_net',
  from: 'measurements_1h_net',
  select: (from) => networkRollupSql(from, dayFromHour),
}

export const probesTable: TableDefinition = {
  name: 'probes',
  columns: [
    'probe String',
    // The token is `ctk_<selector>_<secret>`: the selector finds the row, the
    // secret is stored only as its SHA-256 and compared in constant time.
    'selector String',
    'secret_sha256 String',
    'asn UInt32',
    'isp String',
    'country String',
    'city String',
    'lat Nullable(Float64)',
    'lon Nullable(Float64)',
    'tags Array(String)',
    "created_at DateTime64(3, 'UTC')",
    "revoked_at Nullable(DateTime64(3, 'UTC'))",
    "updated_at DateTime64(3, 'UTC')",
  ],
  engine: 'ReplacingMergeTree',
  engineArgs: 'updated_at',
  orderBy: 'probe',
  shardBy: 'cityHash64(probe)',
}

/** One row per agent heartbeat: the fleet dashboard's "who is alive, how backed up". */
export const heartbeatsTable: TableDefinition = {
  name: 'probe_heartbeats',
  columns: [
    "ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
    'probe LowCardinality(String)',
    'version LowCardinality(String)',
    'targets UInt32',
    'spool_records UInt64',
    'spool_bytes UInt64',
    "dropped_total UInt64 COMMENT 'records the agent dropped from a full spool, since it was installed'",
    'rejected_total UInt64',
  ],
  engine: 'MergeTree',
  partitionBy: 'toYYYYMM(ts)',
  orderBy: '(probe, ts)',
  ttl: (context) => `toDateTime(ts) + INTERVAL ${context.retentionDays} DAY`,
  shardBy: 'cityHash64(probe)',
}

/**
 * Where each PoP a target was seen at (or is declared to have) stands, so
 * distances are computed inside ClickHouse, by the findings API and by
 * Grafana alike. Filled by the collector from its PoP catalog; a code no
 * source knows has NULL coordinates and is reported as unknown.
 */
export const popLocationsTable: TableDefinition = {
  name: 'pop_locations',
  columns: [
    'target LowCardinality(String)',
    'pop LowCardinality(String)',
    'provider LowCardinality(String)',
    'lat Nullable(Float64)',
    'lon Nullable(Float64)',
    'city String',
    "source LowCardinality(String) COMMENT 'config, provider, airport, or unknown'",
    "declared UInt8 COMMENT '1 when the config lists this PoP for the target, seen or not'",
    "updated_at DateTime64(3, 'UTC')",
  ],
  engine: 'ReplacingMergeTree',
  engineArgs: 'updated_at',
  orderBy: '(target, pop)',
  shardBy: 'cityHash64(target)',
}

/**
 * The scheduled minute fold's ledger: per collector, the windows of
 * `received_at` it folded. A window is recorded as started before its fold
 * and done after it, so a collector that died in between folds the same
 * window again, with the same deduplication token, and nothing is counted
 * twice or skipped.
 */
export const rollupFoldsTable: TableDefinition = {
  name: 'rollup_folds',
  columns: [
    'collector LowCardinality(String)',
    "folded_from DateTime64(3, 'UTC')",
    "folded_to DateTime64(3, 'UTC')",
    "state Enum8('started' = 1, 'done' = 2)",
    "raw_rows UInt64 COMMENT 'raw rows the fold read; 0 on the started row'",
    "at DateTime64(3, 'UTC') DEFAULT now64(3)",
  ],
  engine: 'MergeTree',
  orderBy: '(collector, folded_to, state)',
  ttl: (context) => `toDateTime(at) + INTERVAL ${context.retentionDays} DAY`,
  shardBy: 'cityHash64(collector)',
}

export const migrationsTable: TableDefinition = {
  name: 'schema_migrations',
  columns: ['version UInt32', 'name String', "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"],
  engine: 'MergeTree',
  orderBy: 'version',
  shardBy: 'version',
}

function onCluster(context: SchemaContext): string {
  return context.cluster ? ` ON CLUSTER ${ident(context.cluster)}` : ''
}

function localName(context: SchemaContext, name: string): string {
  return context.cluster ? `${name}_local` : name
}

export function createDatabase(context: SchemaContext): string {
  return `CREATE DATABASE IF NOT EXISTS ${ident(context.database)}${onCluster(context)}`
}

/** CREATE TABLE statements for one table: one on a single node, two on a cluster. */
export function createTable(context: SchemaContext, table: TableDefinition): string[] {
  const local = localName(context, table.name)
  const engine = context.cluster && table.engine !== 'Null'
    ? `Replicated${table.engine}('/clickhouse/tables/{shard}/${context.database}/${local}', '{replica}'${table.engineArgs ? `, ${table.engineArgs}` : ''})`
    : `${table.engine}(${table.engineArgs ?? ''})`
  const clauses = [
    `ENGINE = ${engine}`,
    table.partitionBy ? `PARTITION BY ${table.partitionBy}` : null,
    table.orderBy ? `ORDER BY ${table.orderBy}` : null,
    table.ttl ? `TTL ${table.ttl(context)}` : null,
    table.settings ? `SETTINGS ${table.settings}` : null,
  ].filter((clause): clause is string => clause !== null)
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${qualified(context, local)}${onCluster(context)}\n(\n  ${[...table.columns, ...(table.indexes ?? []).map((index) => `INDEX ${index}`)].join(',\n  ')}\n)\n${clauses.join('\n')}`,
  ]
  if (context.cluster) {
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${qualified(context, table.name)}${onCluster(context)} AS ${qualified(context, local)}\n` +
        `ENGINE = Distributed(${ident(context.cluster)}, ${ident(context.database)}, ${ident(local)}, ${table.shardBy})`,
    )
  }
  return statements
}

/** ALTER … ADD COLUMN for a table; on a cluster for its local tables and the Distributed table over them. */
export function addColumns(context: SchemaContext, table: TableDefinition, columns: string[]): string[] {
  return alterTable(context, table, columns.map((column) => `ADD COLUMN IF NOT EXISTS ${column}`).join(', '))
}

/** ALTER … DROP COLUMN IF EXISTS, for the same tables as addColumns. */
export function dropColumns(context: SchemaContext, table: TableDefinition, names: readonly string[]): string[] {
  return alterTable(context, table, names.map((name) => `DROP COLUMN IF EXISTS ${ident(name)}`).join(', '))
}

/** One ALTER for a table: on a cluster for its local tables and the Distributed table over them, whose columns must match. */
function alterTable(context: SchemaContext, table: TableDefinition, change: string): string[] {
  const names = context.cluster ? [localName(context, table.name), table.name] : [table.name]
  return names.map((name) => `ALTER TABLE ${qualified(context, name)}${onCluster(context)} ${change}`)
}

/** ALTER … ADD INDEX and MATERIALIZE INDEX (for the rows already stored), on a cluster for the local tables only: a Distributed table has no indexes. */
export function addIndex(context: SchemaContext, table: TableDefinition, index: string): string[] {
  const target = `ALTER TABLE ${qualified(context, localName(context, table.name))}${onCluster(context)}`
  const name = index.split(' ')[0] as string
  return [`${target} ADD INDEX IF NOT EXISTS ${index}`, `${target} MATERIALIZE INDEX ${ident(name)}`]
}

/** ALTER … MODIFY SETTING on the tables that hold the rows (the local ones on a cluster). */
export function modifySettings(context: SchemaContext, table: TableDefinition, settings: string): string {
  return `ALTER TABLE ${qualified(context, localName(context, table.name))}${onCluster(context)} MODIFY SETTING ${settings}`
}

/** ALTER … DROP PARTITION on the tables that hold the rows (the local ones on a cluster), each partition given by its key's values as SQL. */
export function dropPartitions(context: SchemaContext, table: TableDefinition, partitions: readonly string[]): string {
  return `ALTER TABLE ${qualified(context, localName(context, table.name))}${onCluster(context)} ${partitions.map((partition) => `DROP PARTITION ${partition}`).join(', ')}`
}

/** A SQL string literal. */
export const sqlString = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

export function createPlainView(context: SchemaContext, view: PlainViewDefinition): string {
  return `CREATE OR REPLACE VIEW ${qualified(context, view.name)}${onCluster(context)} AS\n${view.select(context)}`
}

export function dropView(context: SchemaContext, view: ViewDefinition): string {
  return `DROP VIEW IF EXISTS ${qualified(context, view.name)}${onCluster(context)}`
}

/** On a cluster the view reads and writes each shard's local tables, so rollups are built where rows land. */
export function createView(context: SchemaContext, view: ViewDefinition): string {
  return (
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(context, view.name)}${onCluster(context)}\n` +
    `TO ${qualified(context, localName(context, view.to))}\nAS ${view.select(qualified(context, localName(context, view.from)))}`
  )
}
