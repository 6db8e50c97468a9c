/**
 * The tables analysis reads, by name. The collector names them with their
 * database; a Grafana dashboard leaves the database to its datasource's
 * `defaultDatabase`, so one dashboard serves any database name.
 */
import type { Store } from '../store/client.ts'
import { dailyNetworkRollupTable, dailyRollupTable, hourlyRollupTable, liveMinutesView, networkRollupTable, popLocationsTable, probesTable, qualified, rollupTable, settledHoursView, unfoldedView } from '../store/schema.ts'

export interface AnalysisTables {
  /** The minute rollup with what a folding collector has not folded yet (schema.ts, `liveMinutesView`). */
  minutes: string
  /** The minute rollup itself: what is folded. */
  minuteRollup: string
  /** The rows not folded yet (schema.ts, `unfoldedView`). */
  unfolded: string
  hours: string
  days: string
  /** The per-network rollups (no probe dimension): hours and days. */
  networkHours: string
  networkDays: string
  /** Before when the hour rollups hold every stored measurement (schema.ts, `settledHoursView`). */
  settled: string
  probes: string
  locations: string
}

export function analysisTables(store?: Pick<Store, 'database'>): AnalysisTables {
  const name = (table: string) => (store ? qualified(store, table) : table)
  return {
    minutes: name(liveMinutesView.name),
    minuteRollup: name(rollupTable.name),
    unfolded: name(unfoldedView.name),
    hours: name(hourlyRollupTable.name),
    days: name(dailyRollupTable.name),
    networkHours: name(networkRollupTable.name),
    networkDays: name(dailyNetworkRollupTable.name),
    settled: name(settledHoursView.name),
    probes: name(probesTable.name),
    locations: name(popLocationsTable.name),
  }
}
