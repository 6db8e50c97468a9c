/**
 * Tells the collector, every few tens of seconds, that this probe is alive,
 * where it stands, and how its spool is doing (backlog, drops). Failures are
 * quiet: the sender already reports outages, once.
 */
import type { Logger } from 'pino'
import type { Heartbeat, MetadataUpdate } from '../metadata.ts'
import { version } from '../version.ts'
import type { CollectorClient } from './collector-client.ts'
import type { Spool } from './spool.ts'

export interface HeartbeatOptions {
  collector: CollectorClient
  probe: string
  metadata: MetadataUpdate | undefined
  spool: Spool
  targets(): number
  intervalMs: number
  logger: Logger
}

export class HeartbeatReporter {
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly options: HeartbeatOptions) {}

  build(): Heartbeat {
    const stats = this.options.spool.stats()
    return {
      version,
      ...(this.options.metadata ? { metadata: this.options.metadata } : {}),
      targets: this.options.targets(),
      spool_records: stats.records,
      spool_bytes: stats.bytes,
      dropped_total: this.options.spool.droppedTotal,
      rejected_total: this.options.spool.rejectedTotal,
    }
  }

  async send(): Promise<boolean> {
    try {
      const response = await this.options.collector.send(
        'POST',
        `/v1/probes/${encodeURIComponent(this.options.probe)}/heartbeat`,
        JSON.stringify(this.build()),
        { 'content-type': 'application/json' },
      )
      if (response.status !== 200) this.options.logger.warn({ status: response.status, body: response.text.slice(0, 200) }, 'heartbeat refused')
      return response.status === 200
    } catch (error) {
      this.options.logger.debug({ reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message }, 'heartbeat failed')
      return false
    }
  }

  start(): void {
    const tick = () => {
      void this.send().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs)
      })
    }
    this.timer = setTimeout(tick, 0)
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
