#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * The `probe` command. Usage errors print one line and exit 1; anything a
 * target does is a result, so only our own bugs can reach the last catch.
 *
 * The line above caps V8's young generation at 2 MB semi-spaces (16 MB by
 * default): an agent allocates a little for every sample and let it grow to
 * the cap, which cost 10 MB of resident memory on average and 18 MB at peak
 * with 100 targets (test/bench/agent-footprint.ts), for no measurable CPU.
 * `env -S` passes the flag on (GNU coreutils ≥ 8.30, BSD and macOS env).
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
