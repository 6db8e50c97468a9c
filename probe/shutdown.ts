/** SIGTERM and SIGINT run `stop` once, then exit 0 (or 1 when stopping failed, with the reason logged). */
import type { Logger } from 'pino'

export function exitOnSignals(stop: () => Promise<void>, logger: Logger): void {
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'stopping')
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}
