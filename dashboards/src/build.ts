/**
 * Writes dashboards/json/*.json from these sources: `npm run dashboards`.
 * Grafana loads the JSON; the tests check it is what these sources build.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { catchmentDashboard } from './catchment.ts'
import { findingsDashboard } from './findings.ts'
import { fleetDashboard } from './fleet.ts'
import { latencyDashboard } from './latency.ts'

export const dashboards: Record<string, Record<string, unknown>> = {
  'catchment.json': catchmentDashboard,
  'latency.json': latencyDashboard,
  'findings.json': findingsDashboard,
  'fleet.json': fleetDashboard,
}

export const jsonDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'json')

export const render = (dashboard: Record<string, unknown>) => `${JSON.stringify(dashboard, null, 2)}\n`

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [file, dashboard] of Object.entries(dashboards)) {
    writeFileSync(path.join(jsonDir, file), render(dashboard))
    process.stdout.write(`wrote dashboards/json/${file}\n`)
  }
}
