/** GET /v1/probes/:id/schedule: the targets this probe should measure, from the collector's config. */
import { Hono } from 'hono'
import type { Schedule } from '../../probe/schedule.ts'
import type { ProbeVariables } from '../auth/middleware.ts'
import type { CollectorConfig, ScheduledTarget } from '../config.ts'
import type { ProbeRecord } from '../store/probes.ts'

export function targetsFor(probe: ProbeRecord, targets: readonly ScheduledTarget[]): Schedule['targets'] {
  return targets
    .filter((target) => !target.probes || target.probes.includes(probe.probe))
    .filter((target) => !target.tags || target.tags.some((tag) => probe.tags.includes(tag)))
    .map(({ probes: _probes, tags: _tags, ...target }) => target)
}

export function scheduleRoutes(config: CollectorConfig): Hono<{ Variables: ProbeVariables }> {
  const app = new Hono<{ Variables: ProbeVariables }>()
  app.get('/:id/schedule', (c) => {
    const probe = c.get('probe')
    if (c.req.param('id') !== probe.probe) {
      return c.json({ error: 'FORBIDDEN', message: 'a probe may read only its own schedule' }, 403)
    }
    const schedule: Schedule = { targets: targetsFor(probe, config.schedule.targets), refresh_s: config.schedule.refresh_s }
    return c.json(schedule)
  })
  return app
}
