/** The admin API: what `collector probe add|list|revoke --collector URL` calls while a collector holds the store. */
import { Hono } from 'hono'
import * as v from 'valibot'
import { probeMetadataSchema } from '../../probe/metadata.ts'
import { describeIssue } from '../../probe/validation.ts'
import type { ProbeDirectory } from '../auth/directory.ts'
import type { MinuteFold } from '../rollups/minute-fold.ts'
import { ProbeRegistryError, type ProbeRecord, type ProbeRegistry } from '../store/probes.ts'

/** What the API shows of a probe: never the secret's hash. */
export function publicProbe(record: ProbeRecord) {
  const { selector: _selector, secretSha256: _secret, ...rest } = record
  return rest
}

/** `fold` is null when the minute rollup is fed by its view (`rollups.minute: views`). */
export function adminRoutes(registry: ProbeRegistry, directory: ProbeDirectory, fold: MinuteFold | null): Hono {
  const app = new Hono()

  app.get('/probes', async (c) => c.json({ probes: (await registry.list()).map(publicProbe) }))

  app.post('/probes', async (c) => {
    const body = (await c.req.json().catch(() => null)) as { probe?: unknown } | null
    if (!body || typeof body.probe !== 'string') return c.json({ error: 'BAD_REQUEST', message: 'body must be JSON with a "probe" id' }, 400)
    const { probe, ...rest } = body
    const metadata = v.safeParse(probeMetadataSchema, rest)
    if (!metadata.success) return c.json({ error: 'BAD_REQUEST', message: describeIssue(metadata.issues, 'probe') }, 400)
    try {
      const { token, record } = await registry.add(probe, metadata.output)
      directory.remember(record)
      return c.json({ probe: publicProbe(record), token }, 201)
    } catch (error) {
      if (error instanceof ProbeRegistryError) return c.json({ error: error.code, message: error.message }, 409)
      throw error
    }
  })

  app.post('/probes/:id/revoke', async (c) => {
    try {
      const record = await registry.revoke(c.req.param('id'))
      directory.remember(record)
      return c.json({ probe: publicProbe(record) })
    } catch (error) {
      if (error instanceof ProbeRegistryError) return c.json({ error: error.code, message: error.message }, 404)
      throw error
    }
  })

  // Folds what this collector has received, now rather than at the next interval: before a report, or at the end of a
  // benchmark. The hours too, unless `?hours=when_due` asks for them only as the timer would (a benchmark's steady state).
  app.post('/rollups/fold', async (c) => {
    if (!fold) return c.json({ error: 'NOT_FOLDING', message: 'rollups.minute is "views": the minute rollup counts every insert as it is written' }, 409)
    const hours = c.req.query('hours') ?? 'now'
    if (hours !== 'now' && hours !== 'when_due') return c.json({ error: 'BAD_REQUEST', message: `hours must be "now" or "when_due", not ${JSON.stringify(hours)}` }, 400)
    const { minutes, hours: folded } = await fold.foldDue(hours)
    return c.json({
      folded: minutes && { collector: minutes.collector, from: new Date(minutes.from).toISOString(), to: new Date(minutes.to).toISOString(), raw_rows: minutes.rawRows },
      hours_folded: folded && { collector: folded.collector, to: new Date(folded.foldedTo).toISOString(), minute_rows: folded.minuteRows },
    })
  })
  return app
}
