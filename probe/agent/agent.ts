/**
 * `probe agent`: the scheduler measures, the spool keeps, the sender
 * delivers, the heartbeat reports. Stopping (SIGTERM) finishes the rounds in
 * flight, puts their records on disk, sends what it can within a few seconds,
 * and leaves the rest in the spool for the next start.
 */
import pLimit from 'p-limit'
import type { Logger } from 'pino'
import type { Measurement } from '../record.ts'
import { CollectorClient } from './collector-client.ts'
import { configuredMetadata, type AgentConfig } from './config.ts'
import { HeartbeatReporter } from './heartbeat.ts'
import { RemoteSchedule } from './remote-schedule.ts'
import { Scheduler } from './scheduler.ts'
import { Sender } from './sender.ts'
import { Spool } from './spool.ts'

export interface AgentOptions {
  config: AgentConfig
  spoolDir: string
  logger: Logger
  /** How long stopping may spend delivering what is spooled. */
  stopDeliveryMs?: number
}

export interface RunningAgent {
  stop(): Promise<void>
  spool: Spool
}

export async function startAgent({ config, spoolDir, logger, stopDeliveryMs = 5000 }: AgentOptions): Promise<RunningAgent> {
  const spool = await Spool.open(spoolDir, {
    maxBytes: config.spool.max_bytes,
    segmentRecords: config.batch.max_records,
    onDrop(records, droppedTotal) {
      logger.warn({ dropped: records, droppedTotal }, 'spool full: dropped the oldest records')
    },
  })
  const stats = spool.stats()
  if (stats.records > 0) logger.info({ records: stats.records, segments: stats.segments }, 'resuming spool')

  const collector = new CollectorClient(config.collector, config.token)
  const sender = new Sender({
    collector,
    spool,
    logger,
    maxWaitMs: config.batch.max_wait_s * 1000,
    backoffMaxMs: config.batch.retry_max_s * 1000,
  })
  const scheduler = new Scheduler({
    probe: config.probe,
    limit: pLimit(config.concurrency),
    logger,
    async onRecords(records: Measurement[]) {
      await spool.append(records.map((record) => JSON.stringify(record)))
      sender.nudge()
    },
  })
  const heartbeat = new HeartbeatReporter({
    collector,
    probe: config.probe,
    metadata: configuredMetadata(config),
    spool,
    targets: () => scheduler.targetCount,
    intervalMs: config.heartbeat_s * 1000,
    logger,
  })

  let remote: RemoteSchedule | null = null
  if (config.targets) {
    scheduler.apply(config.targets)
  } else {
    remote = new RemoteSchedule({
      collector,
      probe: config.probe,
      cacheDir: spoolDir,
      logger,
      onChange: (schedule) => {
        logger.info({ targets: schedule.targets.length }, 'schedule updated')
        scheduler.apply(schedule.targets)
      },
    })
    // In the background: without a collector or a cached schedule it waits, and the agent must still stop on SIGTERM.
    void remote.start()
  }
  sender.start()
  heartbeat.start()
  logger.info({ probe: config.probe, targets: scheduler.targetCount, spool: spoolDir }, 'agent started')

  let stopping: Promise<void> | null = null
  return {
    spool,
    stop: () =>
      (stopping ??= (async () => {
        remote?.stop()
        heartbeat.stop()
        await scheduler.stop()
        await sender.stop(stopDeliveryMs)
        await heartbeat.send()
        await collector.close()
        const left = spool.stats()
        await spool.close()
        logger.info({ spooled: left.records }, 'agent stopped')
      })()),
  }
}
