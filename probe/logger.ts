/** Structured logs on stderr, quiet by default: an agent on a home router should not fill its disk. */
import { pino, type Logger } from 'pino'

export function createLogger(name: string, level: string = process.env.CATCHMENT_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: true }))
}
