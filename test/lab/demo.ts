/**
 * `lab demo`: build the topology, register every vantage point, run the
 * collector (embedded store) and one `probe agent` per vantage point, play
 * the topology's events, let them measure, then ask the collector what it
 * found, and tear everything down (also when something fails).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { request } from 'undici'
import { stringify } from 'yaml'
import type { CatchmentReport } from '../../collector/analysis/catchment.ts'
import type { Finding, UnknownPop } from '../../collector/analysis/findings.ts'
import { openStore } from '../../collector/store/client.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { ProbeRegistry } from '../../collector/store/probes.ts'
import { collectorAddress, down, edgeCounts, popNs, repoRoot, startBird, stopBird, up, vpNs } from './network.ts'
import type { Topology } from './topology.ts'

export const targetName = 'anycast'
const collectorPort = 8080

export interface DemoResult {
  topology: string
  minutes: number
  findings: Finding[]
  unknown_pops: UnknownPop[]
  catchment: CatchmentReport
  /** Requests the PoPs answered, rows stored, distinct ids stored: equal when nothing was lost or doubled. */
  delivery: { measured: number; stored: number; distinct: number; by_pop: Record<string, number> }
  events: Array<{ at_s: number; event: string }>
}

export interface DemoOptions {
  minutes: number
  dir: string
  log?: (line: string) => void
  /** Catchment changes need runs of at least this many minutes on both sides. */
  minRunMinutes?: number
}

function spawnLogged(command: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const append = (chunk: Buffer) => {
    log += chunk.toString()
    writeFileSync(logFile, log)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  return child
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

async function waitForCollector(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const response = await request(`${url}/readyz`)
      await response.body.dump()
      if (response.statusCode === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`collector at ${url} did not become ready`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await request(url)
  const body = (await response.body.json()) as T
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${JSON.stringify(body)}`)
  return body
}

export async function runDemo(topology: Topology, options: DemoOptions): Promise<DemoResult> {
  const { dir } = options
  const log = options.log ?? (() => {})
  const store = `chdb://${path.join(dir, 'data')}`
  const collectorUrl = `http://${collectorAddress}:${collectorPort}`
  const children: ChildProcess[] = []
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  try {
    log(`building ${topology.pops.length} PoPs, ${topology.isps.length} ISPs, ${topology.vantage_points.length} vantage points`)
    const built = await up(topology, dir)
    children.push(...built.processes)

    // Register every vantage point before the collector holds the store.
    const tokens = new Map<string, string>()
    const opened = await openStore(store, { roles: ['registry'] })
    try {
      await migrate(opened, { retentionDays: 30 })
      const registry = new ProbeRegistry(opened)
      for (const vp of topology.vantage_points) {
        const isp = topology.isps.find((candidate) => candidate.name === vp.isp)
        const { token } = await registry.add(vp.probe, { asn: isp?.asn ?? 0, isp: vp.isp, country: vp.country, city: vp.city, lat: vp.lat, lon: vp.lon, tags: [] })
        tokens.set(vp.probe, token)
      }
    } finally {
      await opened.close()
    }

    const collectorConfig = path.join(dir, 'collector.yaml')
    writeFileSync(
      collectorConfig,
      stringify({
        store,
        host: collectorAddress,
        port: collectorPort,
        retention_days: 30,
        ingest: { batch_ms: 100 },
        // The topology's PoPs are the catalog: distances are exactly what it implies.
        pops: topology.pops.map((pop) => ({ code: pop.code, lat: pop.lat, lon: pop.lon, city: pop.city, targets: [targetName] })),
        schedule: {
          refresh_s: 10,
          targets: [{ name: targetName, url: `http://${topology.anycast}/`, pop: topology.provider, ...topology.probe }],
        },
      }),
    )
    let collector: ChildProcess | null = null
    const startCollector = async () => {
      collector = spawnLogged(process.execPath, ['--import', 'tsx', 'collector/cli.ts', 'serve', '--config', collectorConfig], path.join(dir, 'collector.log'))
      writeFileSync(path.join(dir, 'collector.pid'), String(collector.pid))
      children.push(collector)
      await waitForCollector(collectorUrl, 60_000)
    }
    await startCollector()
    log(`collector ready at ${collectorUrl}`)

    const agents: ChildProcess[] = []
    for (const vp of topology.vantage_points) {
      const config = path.join(dir, `agent-${vp.probe}.yaml`)
      writeFileSync(
        config,
        stringify({
          collector: collectorUrl,
          token: tokens.get(vp.probe),
          probe: vp.probe,
          schedule: 'remote',
          batch: { max_wait_s: 1, retry_max_s: 2 },
          heartbeat_s: 10,
        }),
      )
      const agent = spawnLogged(
        'ip',
        ['netns', 'exec', vpNs(vp.probe), process.execPath, '--import', 'tsx', 'probe/cli.ts', 'agent', '--config', config, '--spool', path.join(dir, `spool-${vp.probe}`), '--log-level', 'info'],
        path.join(dir, `agent-${vp.probe}.log`),
      )
      agents.push(agent)
      children.push(agent)
    }
    const startedAt = Date.now()
    log(`${agents.length} agents measuring for ${options.minutes} min`)

    const events: DemoResult['events'] = []
    const timers = topology.events.map((event) =>
      setTimeout(async () => {
        const at = Math.round((Date.now() - startedAt) / 1000)
        if ('pop_down' in event) {
          stopBird(dir, popNs(event.pop_down))
          events.push({ at_s: at, event: `PoP ${event.pop_down} withdrawn` })
        } else if ('pop_up' in event) {
          startBird(dir, popNs(event.pop_up))
          events.push({ at_s: at, event: `PoP ${event.pop_up} announced again` })
        } else if (event.collector === 'kill' && collector) {
          collector.kill('SIGKILL')
          events.push({ at_s: at, event: 'collector killed (SIGKILL)' })
        } else if (event.collector === 'start') {
          await startCollector()
          events.push({ at_s: at, event: 'collector restarted' })
        }
        log(`t=${at}s ${events.at(-1)?.event}`)
      }, event.at_s * 1000),
    )

    await new Promise((resolve) => setTimeout(resolve, options.minutes * 60_000))
    for (const timer of timers) clearTimeout(timer)

    // Agents finish their rounds and deliver what they hold before the answers are read.
    for (const agent of agents) agent.kill('SIGTERM')
    await Promise.all(agents.map(exited))
    const since = new Date(startedAt - 60_000).toISOString()
    const findings = await getJson<{ findings: Finding[]; unknown_pops: UnknownPop[] }>(
      `${collectorUrl}/v1/findings?since=${encodeURIComponent(since)}&target=${targetName}&min_samples=10`,
    )
    const catchment = await getJson<CatchmentReport>(
      `${collectorUrl}/v1/catchment?since=${encodeURIComponent(since)}&target=${targetName}&min_run=${options.minRunMinutes ?? 1}m`,
    )
    const running = collector as ChildProcess | null
    running?.kill('SIGTERM')
    if (running) await exited(running)

    for (const edge of built.processes.slice(1)) edge.kill('SIGTERM')
    await Promise.all(built.processes.slice(1).map(exited))
    const byPop = edgeCounts(dir)
    const counted = await openStore(store, { roles: ['query'] })
    let stored = 0
    let distinct = 0
    try {
      const result = await counted.client('query').query({
        query: `SELECT count() AS rows, uniqExact(id) AS ids FROM catchment.measurements WHERE target = {target:String}`,
        query_params: { target: targetName },
        format: 'JSONEachRow',
      })
      const [row] = await result.json<{ rows: string; ids: string }>()
      stored = Number(row?.rows)
      distinct = Number(row?.ids)
    } finally {
      await counted.close()
    }
    return {
      topology: topology.name,
      minutes: options.minutes,
      findings: findings.findings,
      unknown_pops: findings.unknown_pops,
      catchment,
      delivery: { measured: Object.values(byPop).reduce((a, b) => a + b, 0), stored, distinct, by_pop: byPop },
      events,
    }
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    down(dir)
  }
}
