/** `collector serve` */
import { Command } from 'commander'
import { nonNegativeInt } from '../../probe/options.ts'
import { exitOnSignals } from '../../probe/shutdown.ts'
import { createLogger } from '../logger.ts'
import { startCollector } from '../server.ts'
import { resolveConfig, type StoreOptions } from './common.ts'

interface ServeOptions extends StoreOptions {
  port?: number
  host?: string
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('accept measurements from probes and store them')
    .option('--port <port>', 'port to listen on (default 8080; 0 picks a free one)', nonNegativeInt)
    .option('--host <address>', 'address to listen on (default 0.0.0.0)')
    .option('--store <url>', 'chdb://DIR or http(s)://user:pass@host:8123/db (env CATCHMENT_STORE)')
    .option('--config <file>', 'YAML or JSON config (schedule, limits, admin token)')
    .action(async (options: ServeOptions) => {
      const config = resolveConfig(options)
      if (options.port !== undefined) config.port = options.port
      if (options.host !== undefined) config.host = options.host
      const logger = createLogger()
      const collector = await startCollector(config, logger)
      // The port on stdout, alone, so scripts and tests that pass --port 0 can find it.
      process.stdout.write(`listening on ${collector.port}\n`)
      exitOnSignals(() => collector.stop(), logger)
    })
}
