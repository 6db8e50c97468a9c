/** What every collector command shares: where the store is, and how errors end. */
import { loadConfig, type CollectorConfig } from '../config.ts'

export interface StoreOptions {
  store?: string
  config?: string
}

/** --store beats CATCHMENT_STORE beats the config file beats the default. */
export function resolveConfig(options: StoreOptions): CollectorConfig {
  const config = loadConfig(options.config)
  const store = options.store ?? process.env.CATCHMENT_STORE ?? config.store
  return { ...config, store }
}

/**
 * Errors with a stable upper-case `code` (ours: CONFIG, STORE_OPEN, USAGE…;
 * Node's: ECONNREFUSED…) are the user's to fix: one line, exit 1. Anything
 * else, ClickHouse's numeric codes included, is a bug and keeps its stack.
 */
export function isUserError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof Error && typeof code === 'string' && /^[A-Z][A-Z_]+$/.test(code)
}
