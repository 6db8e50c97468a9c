/**
 * GET /v1/findings and GET /v1/catchment: what the fleet found, as JSON.
 * Both are computed by ClickHouse on request, from the rollup.
 */
import { Hono } from 'hono'
import { catchmentReport } from '../analysis/catchment.ts'
import { findFindings, unknownPops } from '../analysis/findings.ts'
import type { PopLocationSync } from '../analysis/pop-sync.ts'
import { parseMinutes, parseSince, SinceError } from '../analysis/since.ts'
import type { Store } from '../store/client.ts'
import type { Severity } from '../../probe/geo/distance.ts'

const severities = new Set(['info', 'warn', 'high', 'severe'])

export function analysisRoutes(store: Store, pops: PopLocationSync): Hono {
  const app = new Hono()

  app.get('/findings', async (c) => {
    const severity = c.req.query('severity') ?? 'warn'
    if (!severities.has(severity)) return c.json({ error: 'BAD_REQUEST', message: 'severity: one of info, warn, high, severe' }, 400)
    const minSamples = Number(c.req.query('min_samples') ?? 10)
    if (!Number.isInteger(minSamples) || minSamples < 1) return c.json({ error: 'BAD_REQUEST', message: 'min_samples: a whole number ≥ 1' }, 400)
    let since: Date
    try {
      since = parseSince(c.req.query('since') ?? '1h')
    } catch (error) {
      if (error instanceof SinceError) return c.json({ error: 'BAD_REQUEST', message: error.message }, 400)
      throw error
    }
    const target = c.req.query('target') || undefined
    await pops.ensureFresh()
    const [findings, unknown] = await Promise.all([
      findFindings(store, { since, target, severity: severity as Severity, minSamples }),
      unknownPops(store, since, target),
    ])
    return c.json({ since: since.toISOString(), findings, unknown_pops: unknown })
  })

  app.get('/catchment', async (c) => {
    let since: Date
    let minRunMinutes: number
    try {
      since = parseSince(c.req.query('since') ?? '6h')
      minRunMinutes = parseMinutes(c.req.query('min_run') ?? '10m')
    } catch (error) {
      if (error instanceof SinceError) return c.json({ error: 'BAD_REQUEST', message: error.message }, 400)
      throw error
    }
    const report = await catchmentReport(store, { since, target: c.req.query('target') || undefined, minRunMinutes })
    return c.json({ since: since.toISOString(), ...report })
  })
  return app
}
