/**
 * RTT accuracy: on lab links of known round-trip time, the median `connect_ms`
 * of `probe run` against the configured truth, and `curl -w %{time_connect}`
 * on the same link in the same run (DESIGN.md target: within 0.5 ms of truth
 * and no worse than curl). Needs root, BIRD 2 and a build (dist/).
 *
 *   npm run build && node --import tsx test/bench/rtt-accuracy.ts [--samples 50]
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { quantile } from '../../probe/stats.ts'
import { down, repoRoot, up, vpNs } from '../lab/network.ts'
import { topologySchema } from '../lab/topology.ts'
import { machine } from './lib/proc.ts'

const { values } = parseArgs({ options: { samples: { type: 'string', default: '50' } } })
const samples = Number(values.samples)
const probeBin = path.join(repoRoot, 'dist/probe/cli.js')
if (!existsSync(probeBin)) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}

// One PoP; one ISP per link length; access links of 0 ms, so the RTT is twice the link delay.
// 0 ms measures the emulator's own floor (four TUN crossings through delayline.py per round trip).
const oneWayMs = [0, 1, 10, 40]
const topology = v.parse(topologySchema, {
  name: 'rtt',
  access_ms: 0,
  pops: [{ code: 'ams', lat: 52.37, lon: 4.89 }],
  isps: oneWayMs.map((ms, i) => ({ name: `isp${i}`, asn: 64600 + i, city: 'Lab', lat: 52.37, lon: 4.89, links: [{ pop: 'ams', delay_ms: ms }] })),
  vantage_points: oneWayMs.map((_, i) => ({ probe: `vp${i}`, isp: `isp${i}`, city: 'Lab', country: 'NL', lat: 52.37, lon: 4.89 })),
})

const median = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5) as number
const dir = path.join(tmpdir(), 'catchment-bench-rtt')
try {
  const { processes } = await up(topology, dir)
  console.log(`RTT accuracy — ${machine()}; ${samples} samples per tool per link, fresh connection each`)
  console.log('  truth RTT   probe connect_ms median (p5–p95)   curl time_connect median (p5–p95)   probe error   curl error')
  for (const [i, ms] of oneWayMs.entries()) {
    const ns = vpNs(`vp${i}`)
    const truth = 2 * ms
    // Interleave the tools so both see the same moment of the link.
    const probeMs: number[] = []
    const curlMs: number[] = []
    for (let round = 0; round < samples / 10; round++) {
      const output = execFileSync('ip', ['netns', 'exec', ns, process.execPath, probeBin, 'run', '--json', '-n', '10', '-i', '20', '-c', '1', `http://${topology.anycast}/`], { encoding: 'utf8' })
      for (const line of output.trim().split('\n')) probeMs.push((JSON.parse(line) as { connect_ms: number }).connect_ms)
      for (let k = 0; k < 10; k++) {
        const seconds = execFileSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{time_connect}', `http://${topology.anycast}/`], { encoding: 'utf8' })
        curlMs.push(Number(seconds) * 1000)
      }
    }
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b)
    const describe = (values: number[]) =>
      `${median(values).toFixed(3)} (${(quantile(sorted(values), 0.05) as number).toFixed(3)}–${(quantile(sorted(values), 0.95) as number).toFixed(3)})`
    const probeError = median(probeMs) - truth
    const curlError = median(curlMs) - truth
    console.log(
      `  ${String(truth).padStart(5)} ms   ${describe(probeMs).padEnd(33)}  ${describe(curlMs).padEnd(34)}  ${probeError >= 0 ? '+' : ''}${probeError.toFixed(3)} ms   ${curlError >= 0 ? '+' : ''}${curlError.toFixed(3)} ms`,
    )
  }
  for (const child of processes) child.kill('SIGTERM')
} finally {
  down(dir)
}
