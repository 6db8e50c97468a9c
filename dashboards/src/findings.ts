/**
 * Findings: the same SQL as `GET /v1/findings` and `collector findings`,
 * judged from the start of the dashboard's range to now, and the catchment
 * changes the API reports. Reusing the collector's SQL keeps the on-call's
 * view and the API from ever disagreeing.
 */
import { catchmentChangesSql, trackRows } from '../../collector/analysis/catchment.ts'
import { findingsSql } from '../../collector/analysis/findings.ts'
import { analysisTables } from '../../collector/analysis/tables.ts'
import { dashboard } from './grafana.ts'
import { bucket, filterVariables, filters, isHourly, networkRows, rollupVariables } from './variables.ts'

/** The analysis SQL relies on columns not being shadowed by same-named aliases. */
const analysisSettings = 'SETTINGS prefer_column_name_to_alias = 1, join_use_nulls = 0'

const findings = `
SELECT * FROM (
${findingsSql(
  analysisTables(),
  {
    since: '$__fromTime',
    lookback: '($__fromTime - INTERVAL 7 DAY)',
    minSamples: '10',
    severities: "['warn', 'high', 'severe']",
    targetFilter: `AND ${filters(['target'])}`,
    hourly: isHourly,
  },
)}
)
WHERE ${filters(['asn', 'country'])} AND $__conditionalAll(served_pop IN (\${pop}) OR nearest_pop IN (\${pop}), $pop)
${analysisSettings}`

// Only networks whose PoP changed in the range: with a fleet of thousands, the ones that stayed put are noise here.
const servedOverTime = `
SELECT time, network, argMax(pop, n) AS served_by
FROM (
  SELECT ${bucket} AS time,
    concat(target, ' · AS', toString(asn), ' ', if(city != '', city, country)) AS network,
    pop, sum(samples) AS n
  ${networkRows(['target', 'asn', 'city', 'country', 'pop', 'samples'], { where: "AND pop != ''" })}
  GROUP BY time, network, pop
)
GROUP BY time, network
QUALIFY uniqExact(served_by) OVER (PARTITION BY network) > 1
ORDER BY time, network`

const changes = `
${catchmentChangesSql(trackRows(analysisTables(), isHourly), { since: '$__fromTime', minRun: '10', filter: `AND ${filters(['target', 'country', 'asn'])}`, periodSeconds: '${step}' })}
${analysisSettings}`

export const findingsDashboard = dashboard({
  uid: 'catchment-findings',
  title: 'catchment — Findings',
  description: 'Networks routed to a far PoP or along a slow path, and how catchments moved.',
  from: 'now-6h',
  variables: [...filterVariables, ...rollupVariables],
  panels: [
    {
      type: 'table',
      title: 'Current findings',
      description:
        'Per ⟨target, ASN, metro⟩, judged from the start of the range to now (warn and worse). GI: the extra round trip a farther PoP costs by distance alone (≥ 10 ms warn, ≥ 20 ms high). LI: RTT above what the distance to the nearest PoP explains (≥ 30 ms warn). Peer RTT: the best another ASN in the same metro gets. Since: the hour the condition began, within a week.',
      gridPos: { x: 0, y: 0, w: 24, h: 10 },
      sql: findings,
      format: 'table',
      columns: {
        id: 'id',
        kind: 'Kind',
        severity: 'Severity',
        confidence: 'Confidence',
        target: 'Target',
        asn: 'ASN',
        isp: 'ISP',
        metro: 'Metro',
        country: 'Country',
        served_pop: 'Served by',
        served_km: 'Served km',
        nearest_pop: 'Nearest PoP',
        nearest_km: 'Nearest km',
        gi_ms: 'GI (ms)',
        li_ms: 'LI (ms)',
        rtt_ms: 'RTT min (ms)',
        rtt_p50_ms: 'RTT p50 (ms)',
        peer_rtt_ms: 'Peer RTT (ms)',
        peer_asn: 'Peer ASN',
        samples: 'Samples',
        probes: 'Probes',
        first_seen: 'Since',
        last_seen: 'Last seen',
      },
      fieldConfig: {
        defaults: {},
        overrides: [
          { matcher: { id: 'byName', options: 'id' }, properties: [{ id: 'custom.hidden', value: true }] },
          {
            matcher: { id: 'byName', options: 'severity' },
            properties: [
              { id: 'custom.cellOptions', value: { type: 'color-background' } },
              {
                id: 'mappings',
                value: [
                  { type: 'value', options: { severe: { color: 'dark-red', index: 0 }, high: { color: 'red', index: 1 }, warn: { color: 'orange', index: 2 }, info: { color: 'blue', index: 3 } } },
                ],
              },
            ],
          },
        ],
      },
      options: { showHeader: true },
    },
    {
      type: 'state-timeline',
      title: 'Networks whose PoP changed',
      description: 'Each ⟨target, ASN, metro⟩ that was served by more than one PoP in the range, with the PoP that answered most of its samples in each interval: a colour change is a catchment change.',
      gridPos: { x: 0, y: 10, w: 24, h: 12 },
      sql: servedOverTime,
      format: 'table',
      transformations: [{ id: 'partitionByValues', options: { fields: ['network'], keepFields: false, naming: { asLabels: false } } }],
      fieldConfig: { defaults: { color: { mode: 'palette-classic' } }, overrides: [] },
      options: { showValue: 'auto', mergeValues: true, rowHeight: 0.8, legend: { showLegend: true, displayMode: 'list', placement: 'bottom' } },
    },
    {
      type: 'table',
      title: 'Catchment changes',
      description: 'Lasting switches (both sides ≥ 10 minutes) per probe, with the connect time before and after, from the start of the range to now. Over more than two days they are read hour by hour.',
      gridPos: { x: 0, y: 22, w: 24, h: 9 },
      sql: changes,
      format: 'table',
      columns: {
        target: 'Target',
        probe: 'Probe',
        asn: 'ASN',
        isp: 'ISP',
        city: 'City',
        from_pop: 'From',
        to_pop: 'To',
        at: 'At',
        from_minutes: 'Minutes before',
        to_minutes: 'Minutes after',
        rtt_before_ms: 'RTT before (ms)',
        rtt_after_ms: 'RTT after (ms)',
      },
      options: { showHeader: true, sortBy: [{ displayName: 'At', desc: true }] },
    },
  ],
})
