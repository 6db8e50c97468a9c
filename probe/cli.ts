#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2 --v8-pool-size=1
/**
 * The `probe` command. Usage errors print one line and exit 1; anything a
 * target does is a result, so only our own bugs can reach the last catch.
 *
 * The line above trims what an agent keeps resident, each measured with 100
 * targets (test/bench/agent-footprint.ts) at no measurable CPU cost:
 * - V8's young generation is capped at 2 MB semi-spaces (16 MB by default):
 *   an agent allocates a little for every sample and let it grow to the cap,
 *   which cost 10 MB on average and 18 MB at peak;
 * - one V8 worker thread instead of one per core, and at most two malloc
 *   arenas (glibc gives each allocating thread its own, up to eight per core,
 *   and the resolver and file threads allocate too): together 6–10 MB, and
 *   the run-to-run spread went with them. Other C libraries ignore the variable.
 * `env -S` passes them on (GNU coreutils ≥ 8.30, BSD and macOS env).
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
