#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
/**
 * The `probe` command. Usage errors print one line and exit 1; anything a
 * target does is a result, so only our own bugs can reach the last catch.
 *
 * The line above trims what an agent keeps resident, both measured with 100
 * targets (test/bench/agent-footprint.ts) at no measurable CPU cost:
 * - V8's young generation is capped at 2 MB semi-spaces (16 MB by default):
 *   an agent allocates a little for every sample and let it grow to the cap,
 *   which cost 10 MB on average and 18 MB at peak;
 * - one V8 worker thread instead of one per core: each thread that allocates
 *   gets its own malloc arena, and four of them held about 8 MB.
 * `env -S` passes the flags on (GNU coreutils ≥ 8.30, BSD and macOS env).
 */
import { Command } from 'commander'
import { agentCommand } from './commands/agent.ts'
import { runCommand } from './commands/run.ts'
import { runProgram } from './usage-error.ts'
import { version } from './version.ts'

// A closed pipe (`probe run --json … | head`) is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw error
})

const program = new Command('probe')
  .description('catchment probe: measure an anycast service from where you are')
  .version(version)
  .showHelpAfterError('(add --help for usage)')
  .addCommand(runCommand())
  .addCommand(agentCommand())

await runProgram(program, 'probe')
