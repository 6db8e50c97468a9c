/**
 * Prometheus metrics of one collector. A registry per app (not the global
 * one) so that several collectors in one process, as in tests, do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface CollectorMetrics {
  registry: Registry
  accepted: Counter<'kind'>
  rejected: Counter<'reason'>
  requests: Counter<'route' | 'status'>
  queueDepth: Gauge
  insertSeconds: Histogram
  insertRows: Histogram
  insertFailures: Counter
  foldSeconds: Histogram
  foldedRows: Counter
  foldedUntil: Gauge
  foldFailures: Counter
  hourFoldSeconds: Histogram
  hourFoldedRows: Counter
  hoursFoldedUntil: Gauge
}

export function createMetrics(): CollectorMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'catchment_collector_' })
  return {
    registry,
    accepted: new Counter({
      name: 'catchment_measurements_accepted_total',
      help: 'Measurements acknowledged as stored; kind="duplicate" were already stored (a retried batch).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'catchment_measurements_rejected_total',
      help: 'Lines refused by validation, by reason class.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'catchment_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'catchment_ingest_queue_rows',
      help: 'Rows accepted but not yet committed to the store.',
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'catchment_insert_duration_seconds',
      help: 'Time to commit one batched insert (duplicate check included).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    insertRows: new Histogram({
      name: 'catchment_insert_rows',
      help: 'Rows per batched insert.',
      buckets: [1, 10, 100, 1000, 5000, 10_000, 25_000, 50_000, 100_000],
      registers: [registry],
    }),
    insertFailures: new Counter({
      name: 'catchment_insert_failures_total',
      help: 'Batched inserts that failed; their requests got 503 and will be retried by the probes.',
      registers: [registry],
    }),
    foldSeconds: new Histogram({
      name: 'catchment_rollup_fold_duration_seconds',
      help: 'Time to fold one window of raw rows into the minute rollup (rollups.minute: folded).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    foldedRows: new Counter({
      name: 'catchment_rollup_folded_rows_total',
      help: 'Raw rows folded into the minute rollup by this collector.',
      registers: [registry],
    }),
    foldedUntil: new Gauge({
      name: 'catchment_rollup_folded_until_seconds',
      help: 'Unix time up to which this collector has folded the rows it received: the minute rollup is complete before it.',
      registers: [registry],
    }),
    foldFailures: new Counter({
      name: 'catchment_rollup_fold_failures_total',
      help: 'Minute folds that failed; the next fold takes their window.',
      registers: [registry],
    }),
    hourFoldSeconds: new Histogram({
      name: 'catchment_rollup_hour_fold_duration_seconds',
      help: 'Time to fold this collector\'s pending minutes into the hour rollups (rollups.minute: folded, every rollups.hour_fold_every_s).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    hourFoldedRows: new Counter({
      name: 'catchment_rollup_hour_folded_minute_rows_total',
      help: 'Minute rows this collector folded into the hour rollups.',
      registers: [registry],
    }),
    hoursFoldedUntil: new Gauge({
      name: 'catchment_rollup_hours_folded_until_seconds',
      help: 'Unix time up to which the hour rollups hold the rows this collector received: ranges of over two days reach this far.',
      registers: [registry],
    }),
  }
}

/** The reason of a rejected line, reduced to a small label set (the field name, or the kind of failure). */
export function reasonClass(reason: string): string {
  if (reason.startsWith('not JSON')) return 'json'
  if (reason.startsWith('line is not valid UTF-8')) return 'utf8'
  if (reason.startsWith('line is ')) return 'too_long'
  if (reason.startsWith('probe: ') && reason.includes('is not the probe')) return 'wrong_probe'
  const field = /^([a-z_]+)[.:]/.exec(reason)?.[1]
  return field ? `field_${field}` : 'invalid'
}
