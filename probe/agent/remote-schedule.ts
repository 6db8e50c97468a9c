/**
 * `schedule: remote`: the targets come from the collector. The last schedule
 * is kept on disk, so an agent restarted during a collector outage goes on
 * measuring what it measured before.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { parseWith } from '../config-file.ts'
import { scheduleSchema, type Schedule } from '../schedule.ts'
import type { CollectorClient } from './collector-client.ts'

export interface RemoteScheduleOptions {
  collector: CollectorClient
  probe: string
  cacheDir: string
  logger: Logger
  onChange(schedule: Schedule): void
}

export class RemoteSchedule {
  private timer: NodeJS.Timeout | null = null
  private current: string | null = null
  private stopped = false

  constructor(private readonly options: RemoteScheduleOptions) {}

  private get cacheFile(): string {
    return path.join(this.options.cacheDir, 'schedule.json')
  }

  async fetch(): Promise<Schedule> {
    const response = await this.options.collector.send('GET', `/v1/probes/${encodeURIComponent(this.options.probe)}/schedule`)
    if (response.status !== 200) throw new Error(`collector answered ${response.status}: ${response.text.slice(0, 200)}`)
    return parseWith(scheduleSchema, JSON.parse(response.text), 'the collector\'s schedule')
  }

  /** Fetches, caches and applies the schedule; returns it. */
  private async refresh(): Promise<Schedule> {
    const schedule = await this.fetch()
    await writeFile(`${this.cacheFile}.tmp`, JSON.stringify(schedule))
    await rename(`${this.cacheFile}.tmp`, this.cacheFile)
    this.apply(schedule)
    return schedule
  }

  private apply(schedule: Schedule): void {
    const key = JSON.stringify(schedule)
    if (key === this.current) return
    this.current = key
    this.options.onChange(schedule)
  }

  /**
   * Gets a first schedule: from the collector, else the cached copy, else it
   * keeps trying (a device may boot before its network is up).
   */
  async start(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        this.scheduleRefresh((await this.refresh()).refresh_s)
        return
      } catch (error) {
        const cached = await readFile(this.cacheFile, 'utf8')
          .then((text) => parseWith(scheduleSchema, JSON.parse(text), this.cacheFile))
          .catch(() => null)
        if (cached) {
          this.options.logger.warn({ reason: (error as Error).message }, 'collector unreachable; measuring the cached schedule')
          this.apply(cached)
          this.scheduleRefresh(Math.min(cached.refresh_s, 60))
          return
        }
        const waitMs = Math.min(60_000, 1000 * 2 ** attempt)
        this.options.logger.warn({ reason: (error as Error).message, retryInMs: waitMs }, 'waiting for a schedule from the collector')
        await new Promise((resolve) => setTimeout(resolve, waitMs))
      }
    }
  }

  private scheduleRefresh(seconds: number): void {
    this.timer = setTimeout(async () => {
      let next = seconds
      try {
        next = (await this.refresh()).refresh_s
      } catch (error) {
        this.options.logger.debug({ reason: (error as Error).message }, 'schedule refresh failed; keeping the current one')
        next = Math.min(seconds, 60)
      }
      if (!this.stopped) this.scheduleRefresh(next)
    }, seconds * 1000)
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
