/** `probe agent --config FILE [--spool DIR]`: the fleet's long-running measurer. */
import { Command } from 'commander'
import { defaultSpoolDir, loadAgentConfig } from '../agent/config.ts'
import { startAgent } from '../agent/agent.ts'
import { createLogger } from '../logger.ts'
import { exitOnSignals } from '../shutdown.ts'

interface AgentCommandOptions {
  config: string
  spool?: string
  logLevel?: string
}

export function agentCommand(): Command {
  return new Command('agent')
    .description('measure the schedule forever and deliver every record to the collector')
    .requiredOption('--config <file>', 'YAML or JSON: collector, token, probe, metadata, targets or `schedule: remote`')
    .option('--spool <dir>', 'durable spool directory (default: $XDG_STATE_HOME/catchment/spool/<probe>)')
    .option('--log-level <level>', 'fatal, error, warn (default), info, debug (env CATCHMENT_LOG_LEVEL)')
    .addHelpText(
      'after',
      `
Example config:
  collector: https://collector.example.net
  token: ctk_…            # from \`collector probe add\`
  probe: ams-home-1
  asn: 1136
  isp: KPN
  country: NL
  city: Amsterdam
  lat: 52.37
  lon: 4.90
  targets:
    - { name: my-app, url: "https://my-app.fly.dev/", interval_s: 60, samples: 3 }
  # or, instead of targets:  schedule: remote`,
    )
    .action(async (options: AgentCommandOptions) => {
      const config = loadAgentConfig(options.config)
      const logger = createLogger('agent', options.logLevel)
      const agent = await startAgent({ config, spoolDir: options.spool ?? defaultSpoolDir(config.probe), logger })
      exitOnSignals(() => agent.stop(), logger)
    })
}
