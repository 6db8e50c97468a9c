/**
 * The collector's HTTP surface, composed from small route modules. Anything
 * unexpected becomes a JSON 500 with no internals; everything a client can
 * cause is answered with a 4xx before it gets that far.
 */
import { Hono } from 'hono'
import type { ProbeDirectory } from './auth/directory.ts'
import { adminAuth, probeAuth } from './auth/middleware.ts'
import type { CollectorConfig } from './config.ts'
import type { IngestQueue } from './ingest/queue.ts'
import type { Logger } from './logger.ts'
import type { CollectorMetrics } from './metrics.ts'
import type { PopLocationSync } from './analysis/pop-sync.ts'
import { adminRoutes } from './routes/admin.ts'
import { analysisRoutes } from './routes/analysis.ts'
import { heartbeatRoutes } from './routes/heartbeat.ts'
import { measurementRoutes } from './routes/measurements.ts'
import { scheduleRoutes } from './routes/schedule.ts'
import type { Store } from './store/client.ts'
import type { Receipt } from './ingest/tsv.ts'
import type { MinuteFold } from './rollups/minute-fold.ts'
import type { ProbeRegistry } from './store/probes.ts'

export interface AppDependencies {
  config: CollectorConfig
  store: Store
  registry: ProbeRegistry
  directory: ProbeDirectory
  queue: IngestQueue
  metrics: CollectorMetrics
  logger: Logger
  pops: PopLocationSync
  /** Who received a request and when, stamped on its rows. */
  receipt(): Receipt
  /** The scheduled minute fold, or null when the minute view feeds the rollup. */
  fold: MinuteFold | null
  /** True once shutdown has begun: readiness fails so load balancers stop sending. */
  isDraining(): boolean
}

export function createApp(deps: AppDependencies): Hono {
  const { config, metrics, logger } = deps
  const app = new Hono()

  app.use(async function countRequests(c, next) {
    await next()
    metrics.requests.inc({ route: c.req.routePath, status: String(c.res.status) })
  })

  app.get('/healthz', (c) => c.json({ ok: true }))
  app.get('/readyz', async (c) => {
    if (deps.isDraining()) return c.json({ ok: false, reason: 'draining' }, 503)
    const ping = await deps.store.client('registry').ping()
    return ping.success ? c.json({ ok: true }) : c.json({ ok: false, reason: 'store unreachable' }, 503)
  })
  app.get('/metrics', async (c) => {
    metrics.queueDepth.set(deps.queue.depth)
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType })
  })

  app.use('/v1/measurements', probeAuth(deps.directory))
  app.route(
    '/v1/measurements',
    measurementRoutes({
      queue: deps.queue,
      metrics,
      logger,
      maxBodyBytes: config.ingest.max_body_bytes,
      maxLineBytes: config.ingest.max_line_bytes,
      retentionDays: config.retention_days,
      receipt: deps.receipt,
    }),
  )
  app.use('/v1/probes/*', probeAuth(deps.directory))
  app.route('/v1/probes', scheduleRoutes(config))
  app.route('/v1/probes', heartbeatRoutes(deps.store, deps.registry, deps.directory))
  const adminToken = config.admin_token ?? process.env.CATCHMENT_ADMIN_TOKEN
  // Findings describe other people's networks: readable with the admin token when one is set.
  const readGate = adminAuth(adminToken, { openWithoutToken: true })
  app.use('/v1/findings', readGate)
  app.use('/v1/catchment', readGate)
  app.route('/v1', analysisRoutes(deps.store, deps.pops))
  app.use('/v1/admin/*', adminAuth(adminToken))
  app.route('/v1/admin', adminRoutes(deps.registry, deps.directory, deps.fold))

  app.notFound((c) => c.json({ error: 'NOT_FOUND', message: `${c.req.method} ${c.req.path} is not an endpoint` }, 404))
  app.onError((error, c) => {
    logger.error({ err: error, path: c.req.path }, 'unhandled error')
    return c.json({ error: 'INTERNAL', message: 'internal error' }, 500)
  })
  return app
}
