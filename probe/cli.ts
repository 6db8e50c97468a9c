#!/usr/bin/env node
/**
 * The `probe` command. Usage errors print one line and exit 1; anything a
 * target does is a result, so only our own bugs can reach the last catch.
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
