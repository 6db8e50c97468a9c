#!/usr/bin/env node
/**
 * The `collector` command. Mistakes in how it is called or configured end in
 * one line on stderr and exit 1; only our own bugs show a stack.
 */
import { Command } from 'commander'
import { runProgram } from '../probe/usage-error.ts'
import { version } from '../probe/version.ts'
import { findingsCommand } from './commands/findings.ts'
import { probeCommand } from './commands/probe.ts'
import { migrateCommand, schemaCommand } from './commands/schema.ts'
import { serveCommand } from './commands/serve.ts'

const program = new Command('collector')
  .description('catchment collector: ingest probe measurements into ClickHouse and find bad routing')
  .version(version)
  .addCommand(serveCommand())
  .addCommand(probeCommand())
  .addCommand(migrateCommand())
  .addCommand(schemaCommand())
  .addCommand(findingsCommand())

await runProgram(program, 'collector')
