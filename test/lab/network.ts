/**
 * Builds the emulated Internet of a topology and tears it down.
 *
 *   ctm-p-<pop>    a PoP: the anycast address on lo, BIRD announcing its /24, a web server
 *   ctm-i-<isp>    an ISP router: BIRD with one eBGP session per PoP link, forwarding on
 *   ctm-v-<probe>  a vantage point: default route to its ISP, a management link to the collector
 *
 * Links are TUN pairs joined by delayline.py (no netem in this kernel). The
 * management network is a bridge in the root namespace (198.19.0.1/16),
 * where the collector listens; it carries no measurements, only deliveries.
 * Addresses: 198.18.0.0/16 for links, 198.19.0.0/16 for management,
 * 203.0.113.0/24 for the anycast service, all inside the lab's namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { birdIspConfig, birdPopConfig } from './bird.ts'
import { linkDelayMs, localPref, type Topology } from './topology.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, '../..')
export const bridge = 'ctmbr0'
export const collectorAddress = '198.19.0.1'
const prefix = 'ctm-'

export const popNs = (code: string) => `${prefix}p-${code}`
export const ispNs = (name: string) => `${prefix}i-${name}`
export const vpNs = (probe: string) => `${prefix}v-${probe}`

export interface PopLink {
  index: number
  isp: string
  pop: string
  ispDevice: string
  popDevice: string
  ispAddress: string
  popAddress: string
  delayMs: number
  localPref: number
  prepend: number
}

export interface LabNetwork {
  dir: string
  topology: Topology
  popLinks: PopLink[]
  vantagePoints: Array<{ probe: string; ns: string; mgmtAddress: string }>
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function tryRun(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' })
  } catch {
    // Cleanup: whatever is already gone is fine.
  }
}

/** The /30 of link `index`: .1 on the ISP side, .2 on the far side. */
function linkAddresses(index: number): [string, string] {
  const base = index * 4
  const third = Math.floor(base / 256)
  const fourth = base % 256
  return [`198.18.${third}.${fourth + 1}`, `198.18.${third}.${fourth + 2}`]
}

/** Removes every namespace, process and device of a lab, running or crashed. Idempotent. */
export function down(dir: string): void {
  let namespaces: string[] = []
  try {
    namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith(prefix))
  } catch {
    namespaces = []
  }
  for (const ns of namespaces) {
    let pids: string[] = []
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean)
    } catch {
      pids = []
    }
    for (const pid of pids) tryRun('kill', ['-9', pid])
  }
  for (const pidFile of ['delayline.pid', 'collector.pid']) {
    const file = path.join(dir, pidFile)
    if (existsSync(file)) tryRun('kill', ['-9', readFileSync(file, 'utf8').trim()])
  }
  for (const ns of namespaces) tryRun('ip', ['netns', 'del', ns])
  tryRun('ip', ['link', 'del', bridge])
  // Management veths whose namespace went first leave their root end behind.
  const leftovers = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => !!name && /^(ctmm\d+|cp\d+[ip]|cv\d+[iv])$/.test(name))
  for (const device of leftovers) tryRun('ip', ['link', 'del', device])
}

function waitForLine(child: ChildProcess, text: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen}`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.includes(text)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => (seen += chunk.toString()))
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited with ${code}: ${seen}`))
    })
  })
}

export function birdSocket(dir: string, ns: string): string {
  return path.join(dir, `${ns}.ctl`)
}

export function startBird(dir: string, ns: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'bird', '-c', path.join(dir, `${ns}.conf`), '-s', birdSocket(dir, ns), '-P', path.join(dir, `${ns}.pid`)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
}

export function stopBird(dir: string, ns: string): void {
  tryRun('birdc', ['-s', birdSocket(dir, ns), 'down'])
}

async function waitForRoutes(topology: Topology, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const anycastNet = `${topology.anycast.split('.').slice(0, 3).join('.')}.0/24`
  for (;;) {
    const missing = topology.isps.filter((isp) => {
      const routes = execFileSync('ip', ['-n', ispNs(isp.name), 'route', 'show', anycastNet], { encoding: 'utf8' })
      return routes.trim() === ''
    })
    if (missing.length === 0) return
    if (Date.now() > deadline) throw new Error(`BGP did not converge: no anycast route at ${missing.map((isp) => isp.name).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Builds the network and starts BIRD, the delay line and the PoPs' web servers. */
export async function up(topology: Topology, dir: string): Promise<{ network: LabNetwork; processes: ChildProcess[] }> {
  down(dir)
  mkdirSync(dir, { recursive: true })
  const processes: ChildProcess[] = []

  for (const pop of topology.pops) ip('netns', 'add', popNs(pop.code))
  for (const isp of topology.isps) ip('netns', 'add', ispNs(isp.name))
  for (const vp of topology.vantage_points) ip('netns', 'add', vpNs(vp.probe))
  for (const ns of [...topology.pops.map((p) => popNs(p.code)), ...topology.isps.map((i) => ispNs(i.name)), ...topology.vantage_points.map((v) => vpNs(v.probe))]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }

  // The links and their delays.
  const popLinks: PopLink[] = []
  const spec: Array<{ a: string; b: string; ab_ms: number; ba_ms: number }> = []
  let index = 0
  for (const isp of topology.isps) {
    for (const link of isp.links) {
      const [ispAddress, popAddress] = linkAddresses(index)
      const delayMs = linkDelayMs(topology, isp, link)
      popLinks.push({
        index,
        isp: isp.name,
        pop: link.pop,
        ispDevice: `cp${index}i`,
        popDevice: `cp${index}p`,
        ispAddress,
        popAddress,
        delayMs,
        localPref: localPref(topology, isp, link),
        prepend: link.prepend,
      })
      spec.push({ a: `cp${index}i`, b: `cp${index}p`, ab_ms: delayMs, ba_ms: delayMs })
      index++
    }
  }
  const vpLinks = topology.vantage_points.map((vp) => {
    const [ispAddress, vpAddress] = linkAddresses(index)
    const entry = { vp, index, ispAddress, vpAddress }
    spec.push({ a: `cv${index}i`, b: `cv${index}v`, ab_ms: topology.access_ms, ba_ms: topology.access_ms })
    index++
    return entry
  })
  writeFileSync(path.join(dir, 'links.json'), JSON.stringify(spec, null, 2))
  const delayLine = spawn('python3', [path.join(here, 'delayline.py'), path.join(dir, 'links.json')], { stdio: ['ignore', 'pipe', 'pipe'] })
  processes.push(delayLine)
  writeFileSync(path.join(dir, 'delayline.pid'), String(delayLine.pid))
  await waitForLine(delayLine, 'ready', 10_000, 'delay line')

  for (const link of popLinks) {
    const isp = ispNs(link.isp)
    const pop = popNs(link.pop)
    ip('link', 'set', link.ispDevice, 'netns', isp)
    ip('link', 'set', link.popDevice, 'netns', pop)
    ip('-n', isp, 'addr', 'add', link.ispAddress, 'peer', link.popAddress, 'dev', link.ispDevice)
    ip('-n', pop, 'addr', 'add', link.popAddress, 'peer', link.ispAddress, 'dev', link.popDevice)
    ip('-n', isp, 'link', 'set', link.ispDevice, 'up')
    ip('-n', pop, 'link', 'set', link.popDevice, 'up')
  }

  ip('link', 'add', bridge, 'type', 'bridge')
  ip('addr', 'add', `${collectorAddress}/16`, 'dev', bridge)
  ip('link', 'set', bridge, 'up')
  const vantagePoints: LabNetwork['vantagePoints'] = []
  vpLinks.forEach(({ vp, index: linkIndex, ispAddress, vpAddress }, i) => {
    const ns = vpNs(vp.probe)
    const isp = ispNs(vp.isp)
    ip('link', 'set', `cv${linkIndex}i`, 'netns', isp)
    ip('link', 'set', `cv${linkIndex}v`, 'netns', ns)
    ip('-n', isp, 'addr', 'add', ispAddress, 'peer', vpAddress, 'dev', `cv${linkIndex}i`)
    ip('-n', ns, 'addr', 'add', vpAddress, 'peer', ispAddress, 'dev', `cv${linkIndex}v`)
    ip('-n', isp, 'link', 'set', `cv${linkIndex}i`, 'up')
    ip('-n', ns, 'link', 'set', `cv${linkIndex}v`, 'up')
    ip('-n', ns, 'route', 'add', 'default', 'dev', `cv${linkIndex}v`, 'src', vpAddress)
    const mgmtAddress = `198.19.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`
    ip('link', 'add', `ctmm${i}`, 'type', 'veth', 'peer', 'name', 'mgmt', 'netns', ns)
    ip('link', 'set', `ctmm${i}`, 'master', bridge, 'up')
    ip('-n', ns, 'addr', 'add', `${mgmtAddress}/16`, 'dev', 'mgmt')
    ip('-n', ns, 'link', 'set', 'mgmt', 'up')
    vantagePoints.push({ probe: vp.probe, ns, mgmtAddress })
  })

  for (const isp of topology.isps) {
    const ns = ispNs(isp.name)
    for (const key of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']) {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', key])
    }
  }

  const network: LabNetwork = { dir, topology, popLinks, vantagePoints }
  topology.pops.forEach((pop, i) => {
    const ns = popNs(pop.code)
    ip('-n', ns, 'addr', 'add', `${topology.anycast}/32`, 'dev', 'lo')
    writeFileSync(path.join(dir, `${ns}.conf`), birdPopConfig(network, pop.code, i + 1))
    startBird(dir, ns)
  })
  topology.isps.forEach((isp, i) => {
    const ns = ispNs(isp.name)
    writeFileSync(path.join(dir, `${ns}.conf`), birdIspConfig(network, isp.name, 100 + i))
    startBird(dir, ns)
  })

  for (const pop of topology.pops) {
    const edge = spawn(
      'ip',
      ['netns', 'exec', popNs(pop.code), process.execPath, '--import', 'tsx', path.join(here, 'edge.ts'), topology.anycast, pop.code, topology.provider, path.join(dir, `edge-${pop.code}.count`)],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    processes.push(edge)
    await waitForLine(edge, 'ready', 30_000, `web server of ${pop.code}`)
  }
  await waitForRoutes(topology, 30_000)
  return { network, processes }
}

/** Requests each PoP's web server has answered so far. */
export function edgeCounts(dir: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const file of readdirSync(dir)) {
    const match = /^edge-(.+)\.count$/.exec(file)
    if (match) counts[match[1] as string] = Number(readFileSync(path.join(dir, file), 'utf8')) || 0
  }
  return counts
}
