/**
 * Resident memory and CPU of `probe agent` with 100 targets every 10 s
 * (DESIGN.md target: ≤ 80 MB RSS, ≤ 2 % of one core), delivering to a real
 * collector. Runs the built agent (dist/), as a fleet would.
 *
 *   npm run build && node --import tsx test/bench/agent-footprint.ts [--seconds 600] [--warmup 60] [--samples N] [--tls]
 *
 * Without --samples the targets leave `samples` out, and the agent's default applies.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { stringify } from 'yaml'
import { targetSchema } from '../../probe/schedule.ts'
import { freePort, repoRoot, runCli, startServe } from '../helpers/cli.ts'
import { queryStore } from '../helpers/collector.ts'
import { makeCertificate } from '../helpers/servers.ts'
import { machine, sampleProcess, type ProcSample } from './lib/proc.ts'
import { startEdge } from './lib/start-edge.ts'

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '100' },
    interval: { type: 'string', default: '10' },
    samples: { type: 'string' },
    // An agent runs for days, and V8 compiles its hot paths for minutes after the start:
    // the default measures the agent once it is warm, and prints the warm-up's own CPU too.
    seconds: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '60' },
    tls: { type: 'boolean', default: false },
    /** Extra Node flags for the agent, e.g. --node-flag=--cpu-prof to profile it. */
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
})
const targets = Number(values.targets)
const intervalS = Number(values.interval)
const defaultSamples = v.parse(targetSchema, { name: 'default', url: 'http://default.test/' }).samples
const samplesByDefault = values.samples === undefined
const samples = samplesByDefault ? defaultSamples : Number(values.samples)
const seconds = Number(values.seconds)
const warmupS = Number(values.warmup)

const agentBin = path.join(repoRoot, 'dist/probe/cli.js')
if (!existsSync(agentBin)) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}
/**
 * How the installed `probe` command starts Node: its `#!/usr/bin/env -S [NAME=value …] node …`
 * line, read into the environment variables and the Node flags it sets.
 */
function shebangLaunch(file: string): { env: Record<string, string>; nodeFlags: string[] } {
  const words = /^#!\S*env -S (.*)$/.exec(readFileSync(file, 'utf8').split('\n')[0] ?? '')?.[1]?.split(' ').filter(Boolean) ?? []
  const nodeAt = words.indexOf('node')
  const assignments = words.slice(0, Math.max(0, nodeAt)).map((word) => word.split('=') as [string, string])
  return { env: Object.fromEntries(assignments), nodeFlags: nodeAt < 0 ? [] : words.slice(nodeAt + 1) }
}
const launch = shebangLaunch(agentBin)
const launchLine = [...Object.entries(launch.env).map(([name, value]) => `${name}=${value}`), 'node', ...launch.nodeFlags].join(' ')

const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-agent-'))
const children: ChildProcess[] = []
try {
  let tlsFiles: { key: string; cert: string } | undefined
  const env: NodeJS.ProcessEnv = { ...process.env, CATCHMENT_LOG_LEVEL: 'warn' }
  if (values.tls) {
    const certificate = await makeCertificate(['localhost'])
    writeFileSync(path.join(dir, 'key.pem'), certificate.key)
    writeFileSync(path.join(dir, 'cert.pem'), certificate.cert)
    tlsFiles = { key: path.join(dir, 'key.pem'), cert: path.join(dir, 'cert.pem') }
    // The agent trusts the edge the way it would trust a public CA.
    env.NODE_EXTRA_CA_CERTS = tlsFiles.cert
  }
  const edge = await startEdge(tlsFiles)
  children.push(edge.child)
  const edgePort = edge.port
  const scheme = values.tls ? 'https' : 'http'

  const store = `chdb://${dir}/data`
  const token = (await runCli('collector', ['probe', 'add', 'bench-agent', '--store', store])).stdout.trim()
  const collectorPort = await freePort()
  const collector = await startServe(['--store', store, '--port', String(collectorPort)])

  const config = path.join(dir, 'agent.yaml')
  writeFileSync(
    config,
    stringify({
      collector: collector.url,
      token,
      probe: 'bench-agent',
      targets: Array.from({ length: targets }, (_, i) => ({
        name: `target-${i}`,
        url: `${scheme}://localhost:${edgePort}/t${i}`,
        interval_s: intervalS,
        ...(samplesByDefault ? {} : { samples }),
      })),
    }),
  )
  const agent = spawn(process.execPath, [...launch.nodeFlags, ...(values['node-flag'] ?? []), agentBin, 'agent', '--config', config, '--spool', path.join(dir, 'spool')], {
    env: { ...env, ...launch.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  children.push(agent)
  const spawnedAt = performance.now()

  console.error(`warming up ${warmupS} s, then measuring ${seconds} s …`)
  await new Promise((resolve) => setTimeout(resolve, warmupS * 1000))
  const series: ProcSample[] = []
  for (let elapsed = 0; elapsed <= seconds; elapsed++) {
    series.push(sampleProcess(agent.pid as number))
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  const first = series[0] as ProcSample
  const last = series.at(-1) as ProcSample
  const wallSeconds = (last.at - first.at) / 1000
  const cpuPercent = ((last.cpuSeconds - first.cpuSeconds) / wallSeconds) * 100
  const userPercent = ((last.userSeconds - first.userSeconds) / wallSeconds) * 100
  const systemPercent = ((last.systemSeconds - first.systemSeconds) / wallSeconds) * 100
  const megabytes = (pick: (sample: ProcSample) => number) => series.map((sample) => pick(sample) / 2 ** 20)
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
  const rss = megabytes((sample) => sample.rssBytes)
  const measurementsPerSecond = (targets * samples) / intervalS

  agent.kill('SIGTERM')
  await new Promise((resolve) => agent.once('exit', resolve))
  await collector.stop()
  const [row] = await queryStore<{ c: string; ok: string }>(store, 'SELECT count() AS c, countIf(error IS NULL) AS ok FROM catchment.measurements')

  console.log(`agent footprint — ${machine()}; agent started as the probe command starts it: ${launchLine}`)
  console.log(`  ${targets} targets × ${samples} sample${samples === 1 ? '' : 's'}${samplesByDefault ? ' (the default)' : ''} every ${intervalS} s over ${scheme.toUpperCase()} = ${measurementsPerSecond.toFixed(1)} measurements/s; ${seconds} s measured after ${warmupS} s warm-up`)
  console.log(`  RSS   max ${Math.max(...rss).toFixed(1)} MB, mean ${mean(rss).toFixed(1)} MB   (target ≤ 80 MB)`)
  console.log(`        mean ${mean(megabytes((sample) => sample.anonBytes)).toFixed(1)} MB private (RssAnon) + ${mean(megabytes((sample) => sample.fileBytes)).toFixed(1)} MB file-backed (RssFile, mostly the node binary)`)
  // A footprint that keeps growing is a leak, not a size: show the course, a mark every tenth of the run.
  const every = Math.max(1, Math.floor(series.length / 10))
  const course = series.filter((_, i) => i % every === 0).map((sample) => `${Math.round((sample.at - first.at) / 1000)} s ${(sample.rssBytes / 2 ** 20).toFixed(0)}`)
  console.log(`        over the run (s MB): ${course.join(', ')}`)
  console.log(`  CPU   ${cpuPercent.toFixed(2)} % of one core (user ${userPercent.toFixed(2)} %, kernel ${systemPercent.toFixed(2)} %)   (target ≤ 2 %)`)
  // V8 keeps compiling the agent's hot code for minutes at 10 samples/s: the course tells that warm-up from a steady cost.
  const tenths = Array.from({ length: 10 }, (_, tenth) => {
    const from = series[Math.floor((tenth * (series.length - 1)) / 10)] as ProcSample
    const to = series[Math.floor(((tenth + 1) * (series.length - 1)) / 10)] as ProcSample
    return `${Math.round((from.at - first.at) / 1000)} s ${(((to.cpuSeconds - from.cpuSeconds) / ((to.at - from.at) / 1000)) * 100).toFixed(2)}`
  })
  console.log(`        over the run, a tenth at a time (from s, %): ${tenths.join(', ')}`)
  const warmupPercent = (first.cpuSeconds / ((first.at - spawnedAt) / 1000)) * 100
  console.log(`        the warm-up before it, start included: ${warmupPercent.toFixed(2)} % over ${Math.round((first.at - spawnedAt) / 1000)} s`)
  console.log(`  stored ${row?.c} measurements in the collector, ${row?.ok} of them without error`)
  // A footprint of failing samples would flatter the agent: refuse to report it as a result.
  if (Number(row?.ok) < 0.99 * Number(row?.c) || Number(row?.c) === 0) {
    console.log('  INVALID RUN: samples failed, so these figures do not describe a working agent')
    process.exitCode = 1
  }
} finally {
  for (const child of children) child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
