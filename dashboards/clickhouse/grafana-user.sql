-- The read-only ClickHouse user Grafana connects as. Run once on the server, as an admin,
-- with the password Grafana is given (CATCHMENT_GRAFANA_PASSWORD in its environment):
--   sed "s/@PASSWORD@/$CATCHMENT_GRAFANA_PASSWORD/" dashboards/clickhouse/grafana-user.sql | clickhouse client --multiquery
-- readonly = 2: no writes or DDL, but the plugin may still set per-query settings
-- (the findings panels set prefer_column_name_to_alias). It may read every table
-- the dashboards use and nothing else: the probes table without its token columns.
-- No JIT compilation, as the collector's own query sessions (querySettings in collector/store/client.ts):
-- compiling a query's expressions cost it 0.3–0.4 s once, and the compiled code was no faster.
CREATE USER IF NOT EXISTS catchment_grafana IDENTIFIED WITH sha256_password BY '@PASSWORD@'
  SETTINGS readonly = 2, max_execution_time = 60, compile_expressions = 0, compile_aggregate_expressions = 0;
GRANT SELECT ON catchment.measurements TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1m TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1m_live TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1h TO catchment_grafana;
-- Which whole hours a short range may read from the hour rollups (a view over the unfolded rows
-- and the minutes a folding collector has not folded into the hours yet)…
GRANT SELECT ON catchment.measurements_1h_settled TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1m_pending TO catchment_grafana;
-- …and the rows not folded yet, which short ranges' summaries read ungrouped by minute.
GRANT SELECT ON catchment.measurements_unfolded TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1h_net TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1d TO catchment_grafana;
GRANT SELECT ON catchment.measurements_1d_net TO catchment_grafana;
-- The live minutes (a view) read the folds' ledger to leave out what is folded already.
GRANT SELECT ON catchment.rollup_folds TO catchment_grafana;
GRANT SELECT ON catchment.probe_heartbeats TO catchment_grafana;
GRANT SELECT ON catchment.pop_locations TO catchment_grafana;
GRANT SELECT(probe, asn, isp, country, city, lat, lon, tags, created_at, revoked_at, updated_at) ON catchment.probes TO catchment_grafana;
