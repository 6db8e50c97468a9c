/** Catchment: where routing sends each vantage point, by network and over time. */
import { dashboard } from './grafana.ts'
import { bucket, filterVariables, networkRows, rollupRows, rollupVariables } from './variables.ts'

const geomap = `
-- The path's RTT is the best connect (as in the findings); a median would merge a t-digest per
-- probe and hour, which over a week of a large fleet costs seconds.
WITH per_pop AS (
  SELECT target, probe, pop, sum(samples) AS n, min(connect_min) AS best
  ${rollupRows()} AND pop != ''
  GROUP BY target, probe, pop
),
per_probe AS (
  SELECT target, probe, argMax(pop, n) AS served_pop, argMax(best, n) AS served_best,
    sum(n) AS sample_count, round(100 * max(n) / sum(n), 1) AS served_share_pct
  FROM per_pop GROUP BY target, probe
)
SELECT pp.target AS service, pp.probe AS probe_name,
  pr.lat AS latitude, pr.lon AS longitude,
  pp.served_pop AS served_pop,
  -- Markers are coloured by PoP: the same PoP is the same colour, its code is the label.
  dense_rank() OVER (ORDER BY pp.served_pop) AS pop_colour,
  concat('AS', toString(pr.asn), ' ', pr.isp) AS network, pr.city AS city_name, pr.country AS country_code,
  round(pp.served_best, 2) AS connect_min_ms, pp.served_share_pct AS served_share_pct, pp.sample_count AS samples_n
FROM per_probe AS pp
INNER JOIN (SELECT probe, lat, lon, asn, isp, city, country FROM probes FINAL WHERE lat IS NOT NULL AND lon IS NOT NULL) AS pr
ON pp.probe = pr.probe
ORDER BY service, probe_name`

const matrix = `
SELECT concat(target, ' — AS', toString(asn), ' ', any(isp)) AS network, pop AS served_by,
  round(100 * sum(samples) / sum(sum(samples)) OVER (PARTITION BY target, asn), 1) AS share_pct
${networkRows(['target', 'asn', 'isp', 'pop', 'samples'], { where: "AND pop != ''" })}
GROUP BY target, asn, pop
ORDER BY network, served_by`

const share = `
SELECT ${bucket} AS time, pop AS served_by, sum(samples) AS sample_count
${networkRows(['pop', 'samples'], { where: "AND pop != ''" })}
GROUP BY time, served_by
ORDER BY time, served_by`

export const catchmentDashboard = dashboard({
  uid: 'catchment-overview',
  title: 'catchment — Catchment',
  description: 'Which PoP answers each vantage point, by network and over time.',
  from: 'now-6h',
  variables: [...filterVariables, ...rollupVariables],
  panels: [
    {
      type: 'geomap',
      title: 'Vantage points by the PoP that serves them',
      description:
        'One marker per probe and target, at the probe\'s registered place. Colour and label: the PoP that answered most of its samples in the range. Hover for its network, its best connect time to that PoP and how much of its traffic that PoP took.',
      gridPos: { x: 0, y: 0, w: 24, h: 12 },
      sql: geomap,
      format: 'table',
      fieldConfig: { defaults: { color: { mode: 'continuous-BlYlRd' } }, overrides: [] },
      options: {
        view: { id: 'fit', lat: 30, lon: 10, zoom: 2 },
        controls: { showZoom: true, mouseWheelZoom: true },
        tooltip: { mode: 'details' },
        layers: [
          {
            type: 'markers',
            name: 'probes',
            location: { mode: 'coords', latitude: 'latitude', longitude: 'longitude' },
            config: {
              showLegend: true,
              style: {
                size: { fixed: 7 },
                color: { field: 'pop_colour' },
                text: { mode: 'field', field: 'served_pop' },
                textConfig: { fontSize: 10, offsetX: 0, offsetY: -12, textAlign: 'center', textBaseline: 'bottom' },
              },
            },
          },
        ],
      },
    },
    {
      type: 'table',
      title: 'Networks × PoPs: share of samples (%)',
      description: 'Rows are ⟨target, ASN⟩, columns the PoPs that answered them; a network split across PoPs is load-balanced or flapping.',
      gridPos: { x: 0, y: 12, w: 12, h: 11 },
      sql: matrix,
      format: 'table',
      transformations: [{ id: 'groupingToMatrix', options: { columnField: 'served_by', rowField: 'network', valueField: 'share_pct', emptyValue: 'null' } }],
      fieldConfig: { defaults: { unit: 'percent', decimals: 1, custom: { cellOptions: { type: 'color-background', mode: 'gradient' } }, color: { mode: 'continuous-GrYlRd' } }, overrides: [] },
      options: { showHeader: true, cellHeight: 'sm' },
    },
    {
      type: 'timeseries',
      title: 'PoP share over time',
      description: 'Share of the selected traffic each PoP answered. A band that grows or vanishes is a catchment moving.',
      gridPos: { x: 12, y: 12, w: 12, h: 11 },
      sql: share,
      format: 'timeseries',
      fieldConfig: {
        defaults: { displayName: '${__field.labels.served_by}', custom: { stacking: { mode: 'percent', group: 'A' }, fillOpacity: 70, lineWidth: 0 }, unit: 'short' },
        overrides: [],
      },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    },
  ],
})
