/** Latency: SmokePing-style quantile bands, a connect-time heatmap, and a per target × PoP summary. */
import { dashboard } from './grafana.ts'
import { bucket, filterVariables, networkRangeRows, networkRows, rollupVariables } from './variables.ts'

const quantiles = 'quantilesTDigestMerge(0.05, 0.25, 0.5, 0.75, 0.95)'

const bands = (digest: 'connect_q' | 'total_q') => `
SELECT time, q[1] AS p05, q[2] AS p25, q[3] AS median, q[4] AS p75, q[5] AS p95
FROM (
  SELECT ${bucket} AS time, ${quantiles}(${digest}) AS q
  ${networkRows([digest])}
  GROUP BY time
)
ORDER BY time`

// Buckets from the lowest to the highest one seen, so every time slot has every row and the heatmap's axis is whole.
const heatmap = `
WITH slots AS (
  SELECT ${bucket} AS time, sumMap(connect_hist) AS counts
  ${networkRows(['connect_hist'])}
  GROUP BY time
),
span AS (
  SELECT arrayMin(arrayFlatten(groupArray(mapKeys(counts)))) AS lowest, arrayMax(arrayFlatten(groupArray(mapKeys(counts)))) AS highest
  FROM slots
)
SELECT time, toString(round(pow(2, k / 2), 3)) AS le, counts[k] AS connects
FROM slots CROSS JOIN span
ARRAY JOIN range(toInt32(lowest), toInt32(highest) + 1) AS k
WHERE notEmpty(mapKeys(counts))
ORDER BY time, k`

const summary = `
SELECT service, served_by, sample_count, error_pct,
  round(connect[3], 2) AS connect_p50_ms, round(connect[5], 2) AS connect_p95_ms,
  round(total[3], 2) AS total_p50_ms, round(total[5], 2) AS total_p95_ms
FROM (
  SELECT target AS service, pop AS served_by, sum(samples) AS sample_count,
    round(100 * sum(errors) / sum(samples), 2) AS error_pct,
    ${quantiles}(connect_q) AS connect, ${quantiles}(total_q) AS total
  ${networkRangeRows(['target', 'pop', 'samples', 'errors', 'connect_q', 'total_q'])}
  GROUP BY target, pop
)
ORDER BY service, sample_count DESC`

const bandFieldConfig = {
  defaults: { unit: 'ms', custom: { lineWidth: 0, fillOpacity: 0, spanNulls: false }, color: { mode: 'fixed', fixedColor: 'green' } },
  overrides: [
    { matcher: { id: 'byName', options: 'p95' }, properties: [{ id: 'custom.fillBelowTo', value: 'p05' }, { id: 'custom.fillOpacity', value: 15 }] },
    { matcher: { id: 'byName', options: 'p75' }, properties: [{ id: 'custom.fillBelowTo', value: 'p25' }, { id: 'custom.fillOpacity', value: 35 }] },
    { matcher: { id: 'byName', options: 'median' }, properties: [{ id: 'custom.lineWidth', value: 2 }, { id: 'color', value: { mode: 'fixed', fixedColor: 'dark-green' } }] },
  ],
}

/** A SmokePing-style panel: the median line inside the 25–75 % and 5–95 % bands. */
const bandPanel = (title: string, what: string, digest: 'connect_q' | 'total_q', x: number) => ({
  type: 'timeseries',
  title,
  description: `${what} of the selected samples: the median line inside the 25–75 % and 5–95 % bands. Pick one target and one PoP for a SmokePing view of a single path. Long ranges read the hour rollup.`,
  gridPos: { x, y: 0, w: 12, h: 10 },
  sql: bands(digest),
  format: 'timeseries' as const,
  fieldConfig: bandFieldConfig,
  options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'none' } },
})

export const latencyDashboard = dashboard({
  uid: 'catchment-latency',
  title: 'catchment — Latency',
  description: 'Connect and total time as quantile bands and a heatmap, per target and PoP.',
  from: 'now-6h',
  variables: [...filterVariables, ...rollupVariables],
  panels: [
    bandPanel('Connect time (TCP handshake) quantiles', 'TCP connect time', 'connect_q', 0),
    bandPanel('Total time quantiles', 'Time to the last byte', 'total_q', 12),
    {
      type: 'heatmap',
      title: 'Connect time distribution',
      description: 'How many connects fell in each bucket (bounds grow by √2: …, 1, 1.41, 2, 2.83 ms, …). Two bright rows are two paths, such as two PoPs.',
      gridPos: { x: 0, y: 10, w: 24, h: 10 },
      sql: heatmap,
      format: 'timeseries',
      fieldConfig: { defaults: { displayName: '${__field.labels.le}' }, overrides: [] },
      options: {
        calculate: false,
        rowsFrame: { layout: 'le', value: 'connects' },
        yAxis: { axisPlacement: 'left', unit: 'ms', reverse: false },
        color: { mode: 'scheme', scheme: 'Oranges', scale: 'exponential', exponent: 0.5, steps: 64 },
        cellGap: 1,
        tooltip: { mode: 'single', yHistogram: true, showColorScale: true },
        legend: { show: true },
      },
    },
    {
      type: 'table',
      title: 'Per target and PoP',
      description: 'Samples, error rate and connect/total quantiles over the range.',
      gridPos: { x: 0, y: 20, w: 24, h: 9 },
      sql: summary,
      format: 'table',
      columns: {
        service: 'Target',
        served_by: 'PoP',
        sample_count: 'Samples',
        error_pct: 'Errors %',
        connect_p50_ms: 'Connect p50 (ms)',
        connect_p95_ms: 'Connect p95 (ms)',
        total_p50_ms: 'Total p50 (ms)',
        total_p95_ms: 'Total p95 (ms)',
      },
      options: { showHeader: true, sortBy: [{ displayName: 'Samples', desc: true }] },
    },
  ],
})
