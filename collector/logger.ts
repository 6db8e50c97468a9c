/** Structured logs on stderr (stdout is for command output); quiet unless something needs a person. */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(level: string = process.env.CATCHMENT_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'collector', level }, pino.destination({ fd: 2, sync: false }))
}
