/** What every collector command shares: where the store is. */
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
