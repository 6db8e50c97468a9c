/** Fleet: who reports, how much, what fails, and who has gone quiet. */
import { liveMinutesView } from '../../collector/store/schema.ts'
import { dashboard } from './grafana.ts'
import { bucket, bucketSeconds, filterVariables, filters, networkRows, rollupRows, rollupVariables, silentAfterVariable } from './variables.ts'

const registeredProbes = `FROM probes FINAL WHERE revoked_at IS NULL AND ${filters(['country', 'asn'])}`

const reporting = `SELECT uniqExact(probe) AS probes_reporting ${rollupRows()}`

const registered = `SELECT count() AS probes_registered ${registeredProbes}`

const rate = `
SELECT ${bucket} AS time, sum(samples) / ${bucketSeconds} AS measurements_per_s
${networkRows(['samples'])}
GROUP BY time
ORDER BY time`

const errors = `
SELECT time, code, round(100 * failed / total, 3) AS error_pct
FROM (
  SELECT ${bucket} AS time, sumMap(errors_by_code) AS by_code, sum(samples) AS total
  ${networkRows(['errors_by_code', 'samples'])}
  GROUP BY time
)
ARRAY JOIN mapKeys(by_code) AS code, mapValues(by_code) AS failed
ORDER BY time, code`

// Heartbeats say an agent is alive even when its targets all fail; measurements say it delivers.
const silent = `
SELECT p.probe AS probe_name, concat('AS', toString(p.asn), ' ', p.isp) AS network, p.country AS country_code, p.city AS city_name,
  h.last_heartbeat AS last_heartbeat, m.last_measurement AS last_measurement,
  -- The last sign of life of either kind; a probe never heard from counts from its registration.
  dateDiff('minute', coalesce(greatest(h.last_heartbeat, m.last_measurement), h.last_heartbeat, m.last_measurement, p.created_at), now()) AS silent_minutes,
  h.spool_records AS spool_backlog, h.dropped_total AS dropped_records, h.version AS agent_version
FROM (SELECT probe, asn, isp, country, city, toDateTime(created_at) AS created_at ${registeredProbes}) AS p
LEFT JOIN (
  SELECT probe, toDateTime(max(ts)) AS last_heartbeat, argMax(spool_records, ts) AS spool_records,
    argMax(dropped_total, ts) AS dropped_total, argMax(version, ts) AS version
  FROM probe_heartbeats WHERE ts >= now() - INTERVAL 7 DAY GROUP BY probe
) AS h ON p.probe = h.probe
LEFT JOIN (
  SELECT probe, max(minute) + INTERVAL 1 MINUTE AS last_measurement
  FROM ${liveMinutesView.name} WHERE minute >= now() - INTERVAL 1 DAY GROUP BY probe
) AS m ON p.probe = m.probe
WHERE silent_minutes >= \${silent_after}
ORDER BY silent_minutes DESC
SETTINGS join_use_nulls = 1`

const backlog = `
SELECT $__timeInterval(ts) AS time, probe AS probe_name, max(spool_records) AS spooled
FROM probe_heartbeats
WHERE $__timeFilter(ts) AND probe IN (SELECT probe ${registeredProbes})
GROUP BY time, probe_name
HAVING max(spool_records) > 0
ORDER BY time, probe_name`

const stat = (title: string, description: string, x: number, sql: string) => ({
  type: 'stat',
  title,
  description,
  gridPos: { x, y: 0, w: 6, h: 4 },
  sql,
  format: 'table' as const,
  options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'none', graphMode: 'none', textMode: 'value' },
})

export const fleetDashboard = dashboard({
  uid: 'catchment-fleet',
  title: 'catchment — Fleet',
  description: 'Probes reporting, measurement rate, errors by code, and probes gone silent.',
  from: 'now-6h',
  variables: [...filterVariables, ...rollupVariables, silentAfterVariable],
  panels: [
    stat('Probes reporting', 'Probes with at least one measurement in the range.', 0, reporting),
    stat('Probes registered', 'Probes with a live token.', 6, registered),
    {
      type: 'timeseries',
      title: 'Measurements per second',
      description: 'Stored measurements per second, averaged over each interval.',
      gridPos: { x: 12, y: 0, w: 12, h: 8 },
      sql: rate,
      format: 'timeseries',
      fieldConfig: { defaults: { unit: 'reqps', custom: { fillOpacity: 20 } }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'single' } },
    },
    {
      type: 'timeseries',
      title: 'Error rate by code',
      description: 'Failed samples per stable error code (TIMEOUT, ECONNREFUSED, TLS_CERT, HTTP_5XX, …) as a share of all samples.',
      gridPos: { x: 0, y: 4, w: 12, h: 8 },
      sql: errors,
      format: 'timeseries',
      fieldConfig: { defaults: { unit: 'percent', displayName: '${__field.labels.code}', custom: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 40 } }, overrides: [] },
      options: { legend: { displayMode: 'table', placement: 'right', calcs: ['mean', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
    },
    {
      type: 'table',
      title: 'Silent probes',
      description: 'Registered probes with neither a heartbeat nor a measurement for at least $silent_after minutes, longest silent first.',
      gridPos: { x: 12, y: 8, w: 12, h: 10 },
      sql: silent,
      format: 'table',
      columns: {
        probe_name: 'Probe',
        network: 'Network',
        country_code: 'Country',
        city_name: 'City',
        last_heartbeat: 'Last heartbeat',
        last_measurement: 'Last measurement',
        silent_minutes: 'Silent (min)',
        spool_backlog: 'Spooled records',
        dropped_records: 'Dropped records',
        agent_version: 'Agent version',
      },
      options: { showHeader: true },
    },
    {
      type: 'timeseries',
      title: 'Spool backlog',
      description: 'Records waiting in an agent\'s spool, from its heartbeats: a probe that measures but cannot deliver.',
      gridPos: { x: 0, y: 12, w: 12, h: 8 },
      sql: backlog,
      format: 'timeseries',
      fieldConfig: { defaults: { displayName: '${__field.labels.probe_name}', unit: 'short' }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    },
  ],
})
