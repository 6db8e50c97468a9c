/**
 * POST /v1/measurements: NDJSON (optionally gzip) from one probe. Valid lines
 * are stored and acknowledged only once committed; invalid lines come back
 * with their line number and reason. Status: 200 when anything was stored or
 * nothing was sent, 422 when every line was rejected (retrying cannot help),
 * 429 when the queue is full, 503 when the store failed (retrying will help).
 */
import type { HttpBindings } from '@hono/node-server'
import { Hono } from 'hono'
import type { ProbeVariables } from '../auth/middleware.ts'
import { BodyError, readBody } from '../ingest/body.ts'
import { attemptHeader } from '../../probe/protocol.ts'
import { parseBatch, storedTimes } from '../ingest/ndjson.ts'
import { compileRecordValidator } from '../ingest/record-check.ts'
import { QueueClosedError, QueueFullError, type IngestQueue } from '../ingest/queue.ts'
import { RowBatchBuilder } from '../ingest/rows.ts'
import type { Receipt } from '../ingest/tsv.ts'
import { reasonClass, type CollectorMetrics } from '../metrics.ts'
import type { Logger } from '../logger.ts'

export interface MeasurementRouteOptions {
  queue: IngestQueue
  metrics: CollectorMetrics
  logger: Logger
  maxBodyBytes: number
  maxLineBytes: number
  retentionDays: number
  /** Stamped on the rows when the request's body has arrived, in the same tick as they are queued (the minute fold relies on it). */
  receipt(): Receipt
}

/** At most this many rejected lines are listed back; the count is always exact. */
const maxRejectedListed = 100

export function measurementRoutes(options: MeasurementRouteOptions): Hono<{ Variables: ProbeVariables }> {
  const { queue, metrics, logger } = options
  const app = new Hono<{ Variables: ProbeVariables }>()
  const validate = compileRecordValidator()

  app.post('/', async (c) => {
    const probe = c.get('probe')
    let body: Buffer
    try {
      // @hono/node-server hands Node's own request over as `c.env.incoming`; a bare `Request` (`app.fetch`) comes without it.
      body = await readBody(c.req.raw, options.maxBodyBytes, (c.env as Partial<HttpBindings> | undefined)?.incoming)
    } catch (error) {
      if (error instanceof BodyError) return c.json({ error: error.code, message: error.message }, error.status)
      throw error
    }

    const rows = new RowBatchBuilder(probe, { firstAttempt: c.req.header(attemptHeader) === '1', sizeHint: body.length, receipt: options.receipt() })
    const rejected = parseBatch(body, { maxLineBytes: options.maxLineBytes, probe: probe.probe, validate, times: storedTimes(options.retentionDays) }, rows)
    for (const line of rejected) metrics.rejected.inc({ reason: reasonClass(line.reason) })
    if (rejected.length > 0) {
      logger.warn({ probe: probe.probe, rejected: rejected.length, first: rejected[0] }, 'rejected lines in batch')
    }
    const rejectedBody = { rejected: rejected.length, errors: rejected.slice(0, maxRejectedListed) }
    if (rows.count === 0) {
      return c.json({ accepted: 0, duplicates: 0, ...rejectedBody }, rejected.length > 0 ? 422 : 200)
    }

    try {
      const result = await queue.submit(rows.finish())
      metrics.accepted.inc({ kind: 'new' }, result.stored)
      metrics.accepted.inc({ kind: 'duplicate' }, result.duplicates)
      return c.json({ accepted: rows.count, duplicates: result.duplicates, ...rejectedBody }, 200)
    } catch (error) {
      if (error instanceof QueueFullError) {
        c.header('retry-after', String(error.retryAfterSeconds))
        return c.json({ error: error.code, message: 'collector is busy; retry later' }, 429)
      }
      if (error instanceof QueueClosedError) {
        c.header('retry-after', '5')
        return c.json({ error: error.code, message: error.message }, 503)
      }
      logger.error({ err: error, probe: probe.probe, rows: rows.count }, 'insert failed')
      c.header('retry-after', '5')
      return c.json({ error: 'STORE_UNAVAILABLE', message: 'the store did not commit the batch; retry' }, 503)
    }
  })
  return app
}
