/**
 * Keeps `pop_locations` in step with what the fleet sees: every (target, PoP)
 * observed in the rollup, plus the PoPs the config declares, located through
 * the catalog. Only new or changed pairs are written; the catalog is asked
 * once per pair, so this stays cheap however many measurements there are.
 */
import { PopCatalog } from '../../probe/geo/catalog.ts'
import type { CollectorConfig } from '../config.ts'
import type { Store } from '../store/client.ts'
import { popLocationsTable, qualified, rollupTable } from '../store/schema.ts'

interface LocationRow {
  target: string
  pop: string
  provider: string
  lat: number | null
  lon: number | null
  city: string
  source: string
  declared: number
}

const lookbackDays = 30

/** The provider whose catalog reads a target's codes: its schedule's preset, else `auto`. */
function providerOf(config: CollectorConfig, target: string): string {
  const preset = config.schedule.targets.find((entry) => entry.name === target)?.pop
  return preset && preset !== 'auto' ? preset : 'auto'
}

export class PopLocationSync {
  private readonly catalog: PopCatalog
  private last = 0
  private running: Promise<void> | null = null

  constructor(
    private readonly store: Store,
    private readonly config: CollectorConfig,
    private readonly minIntervalMs = 30_000,
  ) {
    this.catalog = new PopCatalog(config.pops)
  }

  /** Syncs unless it did so in the last `minIntervalMs`; concurrent callers share one run. */
  async ensureFresh(force = false): Promise<void> {
    if (!force && Date.now() - this.last < this.minIntervalMs) return
    this.running ??= this.sync().finally(() => {
      this.running = null
      this.last = Date.now()
    })
    await this.running
  }

  private async sync(): Promise<void> {
    const client = this.store.client('query')
    const observed = await (
      await client.query({
        query: `SELECT DISTINCT target, pop FROM ${qualified(this.store, rollupTable.name)}
          WHERE pop != '' AND minute >= now() - INTERVAL ${lookbackDays} DAY`,
        format: 'JSONEachRow',
      })
    ).json<{ target: string; pop: string }>()
    const existing = new Map(
      (
        await (
          await client.query({ query: `SELECT * FROM ${qualified(this.store, popLocationsTable.name)} FINAL`, format: 'JSONEachRow' })
        ).json<LocationRow>()
      ).map((row) => [`${row.target}\u0000${row.pop}`, row]),
    )

    const wanted = new Map<string, { target: string; pop: string; declared: boolean }>()
    for (const { target, pop } of observed) wanted.set(`${target}\u0000${pop}`, { target, pop, declared: false })
    for (const entry of this.config.pops) {
      for (const target of entry.targets ?? []) {
        const pop = entry.code.toLowerCase()
        wanted.set(`${target}\u0000${pop}`, { target, pop, declared: true })
      }
    }

    const rows: Array<LocationRow & { updated_at: string }> = []
    for (const [key, { target, pop, declared }] of wanted) {
      const provider = providerOf(this.config, target)
      const location = await this.catalog.resolve(provider, pop)
      const row: LocationRow = {
        target,
        pop,
        provider,
        lat: location?.lat ?? null,
        lon: location?.lon ?? null,
        city: location?.city ?? '',
        source: location?.source ?? 'unknown',
        declared: declared ? 1 : 0,
      }
      const before = existing.get(key)
      const unchanged =
        before &&
        before.provider === row.provider &&
        before.lat === row.lat &&
        before.lon === row.lon &&
        before.source === row.source &&
        Number(before.declared) === row.declared
      if (!unchanged) rows.push({ ...row, updated_at: new Date().toISOString() })
    }
    if (rows.length > 0) {
      await client.insert({ table: qualified(this.store, popLocationsTable.name), values: rows, format: 'JSONEachRow' })
    }
  }
}
