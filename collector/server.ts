/**
 * `collector serve`: open the store, migrate it, load the probe directory,
 * listen. On SIGTERM/SIGINT: fail readiness, stop accepting connections,
 * write everything already acknowledged-to-be, close the store, exit 0.
 */
import { serve, type ServerType } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PopLocationSync } from './analysis/pop-sync.ts'
import { ProbeDirectory } from './auth/directory.ts'
import { createApp } from './app.ts'
import type { CollectorConfig } from './config.ts'
import { IngestQueue } from './ingest/queue.ts'
import { writeBatches } from './ingest/writer.ts'
import { createLogger, type Logger } from './logger.ts'
import { createMetrics } from './metrics.ts'
import { openStore } from './store/client.ts'
import { MinuteFold, ReceiptClock, restoreMinuteView } from './rollups/minute-fold.ts'
import { migrate } from './store/migrations.ts'
import { ProbeRegistry } from './store/probes.ts'
import { redactStoreUrl } from './store/url.ts'

/**
 * How long an idle connection is kept open, and told to clients in the
 * `Keep-Alive` header, which undici follows. Node's default of 5 s is
 * shorter than an agent's 10 s between batches, so every batch opened a new
 * connection (and, behind TLS, a handshake); 75 s outlasts the default 60 s
 * heartbeat and a minute's batch, and the 60 s idle timeout load balancers
 * commonly use, so that the balancer, not the collector, closes first.
 */
export const keepAliveMs = 75_000

/**
 * How long a failed insert's rows hold the minute fold back on a server
 * store. The server may finish an insert after the client gave up on it (a
 * request times out after 60 s, store/client.ts); folding past those rows
 * then would leave them out of the rollups for good. The embedded engine
 * runs in this process: whatever it committed of a failed insert is there
 * when the failure is reported, so it holds nothing back.
 */
const serverInsertInDoubtMs = 10 * 60_000

export interface RunningCollector {
  port: number
  stop(): Promise<void>
}

export async function startCollector(config: CollectorConfig, logger: Logger = createLogger()): Promise<RunningCollector> {
  const store = await openStore(config.store, { ingestSessions: config.ingest.writers, foldSessions: 2 })
  const migration = await migrate(store, { retentionDays: config.retention_days })
  for (const step of migration.applied) logger.info({ version: step.version, name: step.name }, 'migration applied')
  const schemaContext = { database: store.database, retentionDays: config.retention_days }

  const registry = new ProbeRegistry(store)
  const directory = new ProbeDirectory(registry)
  await directory.start()
  const metrics = createMetrics()
  const queue = new IngestQueue({
    maxRows: config.ingest.queue_rows,
    batchRows: config.ingest.batch_rows,
    batchMs: config.ingest.batch_ms,
    writers: config.ingest.writers,
    write: (batches) => writeBatches(store, batches),
    inDoubtMs: store.location.kind === 'server' ? serverInsertInDoubtMs : 0,
    onWrite({ rows, seconds, error }) {
      metrics.insertSeconds.observe(seconds)
      metrics.insertRows.observe(rows)
      if (error) metrics.insertFailures.inc()
    },
  })
  const clock = new ReceiptClock()
  let fold: MinuteFold | null = null
  if (config.rollups.minute === 'folded') {
    fold = new MinuteFold({
      store,
      context: schemaContext,
      collector: config.name,
      clock,
      oldestUnsettled: () => queue.oldestReceipt,
      hourFoldEveryMs: config.rollups.hour_fold_every_s * 1000,
      metrics,
      logger,
    })
    await fold.prepare()
    fold.start(config.rollups.fold_every_s * 1000)
  } else await restoreMinuteView(store, schemaContext, logger)
  const pops = new PopLocationSync(store, config)
  // Dashboards read pop_locations directly, so keep it current even when nobody asks the API.
  const syncPops = () => pops.ensureFresh(true).catch((error: unknown) => logger.warn({ err: error }, 'PoP location sync failed'))
  void syncPops()
  const popTimer = setInterval(syncPops, 60_000)
  popTimer.unref()
  let draining = false
  // Only a folding collector names its rows: the live minutes (schema.ts) take named rows it has not folded as not counted yet.
  const receipt = () => ({ collector: fold ? config.name : '', receivedAt: clock.now() })
  const app = createApp({ config, store, registry, directory, queue, metrics, logger, pops, receipt, fold, isDraining: () => draining })

  // Plain HTTP/1.1 (no createServer option), so the server is a node:http Server.
  const server = (await new Promise<ServerType>((resolve) => {
    const started = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(started))
  })) as Server
  server.keepAliveTimeout = keepAliveMs
  const port = (server.address() as AddressInfo).port
  logger.info({ port, host: config.host, store: redactStoreUrl(config.store), schema: migration.current }, 'collector listening')

  let stopping: Promise<void> | null = null
  const stop = () =>
    (stopping ??= (async () => {
      draining = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Idle keep-alive sockets would hold close() open; requests in flight finish first.
      server.closeIdleConnections()
      await queue.drain()
      await fold?.stop().catch((error: unknown) => logger.error({ err: error }, 'last minute fold failed; the next start folds its window'))
      // Keep-alive sockets that went idle after close() began would hold it open.
      setImmediate(() => server.closeIdleConnections())
      const forceClose = setTimeout(() => server.closeAllConnections(), 5000)
      forceClose.unref()
      await closed
      clearTimeout(forceClose)
      directory.stop()
      clearInterval(popTimer)
      await store.close()
      logger.info('collector stopped; every acknowledged measurement is stored')
    })())
  return { port, stop }
}
