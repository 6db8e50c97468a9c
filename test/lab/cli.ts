/**
 * `npm run lab -- demo --topology FILE [--minutes N] [--json]`, `up`, `down`.
 * Needs root (namespaces, TUN devices) and BIRD 2 (`apt-get install bird2`).
 */
import { Command, InvalidArgumentError } from 'commander'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { renderFindings } from '../../collector/commands/findings.ts'
import { runProgram } from '../../probe/usage-error.ts'
import { runDemo } from './demo.ts'
import { down, up } from './network.ts'
import { loadTopology } from './topology.ts'

const defaultDir = path.join(tmpdir(), 'catchment-lab')

function minutes(value: string): number {
  const parsed = Number(value)
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a number of minutes > 0.')
  return parsed
}

const program = new Command('lab').description('an emulated anycast Internet with real BGP, for catchment')

program
  .command('demo')
  .description('build the topology, run a collector and one agent per vantage point, print the findings, tear down')
  .requiredOption('--topology <file>', 'YAML or JSON topology (see test/lab/topologies)')
  .option('--minutes <n>', 'how long the fleet measures', minutes, 3)
  .option('--min-run <minutes>', 'shortest run on each side of a catchment change', minutes, 1)
  .option('--json', 'print the result as JSON')
  .option('--dir <dir>', 'working directory (configs, logs, store)', defaultDir)
  .action(async (options: { topology: string; minutes: number; minRun: number; json?: boolean; dir: string }) => {
    const topology = loadTopology(options.topology)
    const result = await runDemo(topology, { minutes: options.minutes, dir: options.dir, minRunMinutes: options.minRun, log: (line) => process.stderr.write(`lab: ${line}\n`) })
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
      return
    }
    process.stdout.write(renderFindings({ since: `the start of the ${options.minutes}-minute run`, findings: result.findings, unknown_pops: result.unknown_pops }))
    for (const change of result.catchment.changes) {
      process.stdout.write(`catchment change: ${change.probe} (${change.isp}, ${change.city}) ${change.from_pop} → ${change.to_pop} at ${change.at}, RTT ${change.rtt_before_ms} → ${change.rtt_after_ms} ms\n`)
    }
    for (const event of result.events) process.stdout.write(`event at ${event.at_s}s: ${event.event}\n`)
    const { measured, stored, distinct } = result.delivery
    process.stdout.write(`delivery: ${measured} measured by the PoPs' count, ${stored} stored, ${distinct} distinct\n`)
  })

program
  .command('up')
  .description('build the topology and leave it running (BIRD, delay lines, PoP web servers)')
  .requiredOption('--topology <file>', 'YAML or JSON topology')
  .option('--dir <dir>', 'working directory', defaultDir)
  .action(async (options: { topology: string; dir: string }) => {
    const { network, processes } = await up(loadTopology(options.topology), options.dir)
    for (const child of processes) {
      child.unref()
      child.stdout?.destroy()
      child.stderr?.destroy()
    }
    process.stdout.write(`up: ${network.vantagePoints.length} vantage points; try: ip netns exec ${network.vantagePoints[0]?.ns} curl -sI http://${network.topology.anycast}/\n`)
  })

program
  .command('down')
  .description('remove every lab namespace, process and device (also after a crash)')
  .option('--dir <dir>', 'working directory', defaultDir)
  .action((options: { dir: string }) => {
    down(options.dir)
    process.stdout.write('down\n')
  })

await runProgram(program, 'lab')
