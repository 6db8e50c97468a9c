/**
 * POST /v1/probes/:id/heartbeat: the agent says it is alive, how backed up
 * its spool is and how much it had to drop, and where it stands now (its
 * metadata, which the collector then joins into the probe's new rows).
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { heartbeatSchema, type MetadataUpdate } from '../../probe/metadata.ts'
import { describeIssue } from '../../probe/validation.ts'
import type { ProbeDirectory } from '../auth/directory.ts'
import type { ProbeVariables } from '../auth/middleware.ts'
import type { Store } from '../store/client.ts'
import type { ProbeRecord, ProbeRegistry } from '../store/probes.ts'
import { heartbeatsTable, qualified } from '../store/schema.ts'

/** Only the fields the agent sent are compared, and only those replace what is stored. */
function metadataChanged(record: ProbeRecord, update: MetadataUpdate): boolean {
  return (Object.keys(update) as Array<keyof MetadataUpdate>).some((key) => JSON.stringify(record[key]) !== JSON.stringify(update[key]))
}

export function heartbeatRoutes(store: Store, registry: ProbeRegistry, directory: ProbeDirectory): Hono<{ Variables: ProbeVariables }> {
  const app = new Hono<{ Variables: ProbeVariables }>()
  app.post('/:id/heartbeat', async (c) => {
    const probe = c.get('probe')
    if (c.req.param('id') !== probe.probe) return c.json({ error: 'FORBIDDEN', message: 'a probe may report only for itself' }, 403)
    const parsed = v.safeParse(heartbeatSchema, await c.req.json().catch(() => undefined))
    if (!parsed.success) return c.json({ error: 'BAD_REQUEST', message: describeIssue(parsed.issues, 'heartbeat') }, 400)
    const heartbeat = parsed.output

    if (heartbeat.metadata && metadataChanged(probe, heartbeat.metadata)) {
      const { asn, isp, country, city, lat, lon, tags } = probe
      directory.remember(await registry.updateMetadata(probe, { asn, isp, country, city, lat, lon, tags, ...heartbeat.metadata }))
    }
    await store.client('registry').insert({
      table: qualified(store, heartbeatsTable.name),
      values: [
        {
          ts: new Date().toISOString(),
          probe: probe.probe,
          version: heartbeat.version,
          targets: heartbeat.targets,
          spool_records: heartbeat.spool_records,
          spool_bytes: heartbeat.spool_bytes,
          dropped_total: heartbeat.dropped_total,
          rejected_total: heartbeat.rejected_total,
        },
      ],
      format: 'JSONEachRow',
    })
    return c.json({ ok: true })
  })
  return app
}
