import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { haversineKm } from '../../probe/geo/distance.ts'
import { runDemo } from './demo.ts'
import { down } from './network.ts'
import { loadTopology, type Topology } from './topology.ts'

/**
 * The end-to-end proof on an emulated Internet: real BGP (BIRD 2) in network
 * namespaces, links as long as the geography says, a collector and one agent
 * per vantage point as real processes. Needs root and bird2 (.ci/run installs it).
 */
function labUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, TUN devices)'
  try {
    execFileSync('bird', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'the lab needs BIRD 2 (apt-get install bird2)'
  }
  return false
}

const skip = labUnavailable()
const dir = path.join(tmpdir(), 'catchment-lab-test')
const topology = (name: string) => loadTopology(new URL(`./topologies/${name}.yaml`, import.meta.url).pathname)

function place(topology: Topology, code: string) {
  const pop = topology.pops.find((candidate) => candidate.code === code)
  assert.ok(pop, code)
  return pop
}

describe('the lab', { skip, concurrency: false }, () => {
  it('scenario 1: exactly the ISP whose policy sends it to a far PoP is found, with the GI and LI the topology implies', async () => {
    const world = topology('world')
    const result = await runDemo(world, { minutes: 1.2, dir })

    assert.equal(result.findings.length, 1, JSON.stringify(result.findings, null, 2))
    const [ziggo] = result.findings
    assert.equal(ziggo?.isp, 'ziggo')
    assert.equal(ziggo?.asn, 33915)
    assert.equal(ziggo?.kind, 'far_pop')
    assert.equal(ziggo?.served_pop, 'iad')
    assert.equal(ziggo?.nearest_pop, 'ams')
    assert.equal(ziggo?.probes, 3)

    // What the topology implies for the Amsterdam vantage points.
    const amsterdam = { lat: 52.37, lon: 4.89 }
    const farKm = haversineKm(amsterdam, place(world, 'iad'))
    const nearKm = haversineKm(amsterdam, place(world, 'ams'))
    const expectedGi = (2 * (farKm - nearKm)) / 200
    const ispToIad = haversineKm({ lat: 52.37, lon: 4.9 }, place(world, 'iad'))
    const expectedRtt = 2 * (world.access_ms + (ispToIad * world.inflation) / 200)
    const expectedLi = expectedRtt - (3 * nearKm) / 200
    assert.ok(Math.abs((ziggo?.gi_ms ?? 0) - expectedGi) < 1, `GI ${ziggo?.gi_ms} vs ${expectedGi.toFixed(2)}`)
    assert.ok(Math.abs((ziggo?.li_ms ?? 0) - expectedLi) < 2, `LI ${ziggo?.li_ms} vs ${expectedLi.toFixed(2)}`)
    assert.ok((ziggo?.peer_rtt_ms ?? 99) < 5, 'KPN, in the same city, reaches Amsterdam')
    assert.equal(ziggo?.peer_asn, 1136)

    // Everyone else is routed to their nearest PoP.
    const served = Object.fromEntries(result.catchment.probes.map((probe) => [probe.probe, probe.pop]))
    assert.deepEqual(served, {
      'au-telstra-1': 'syd', 'au-telstra-2': 'syd', 'br-vivo-1': 'gru', 'br-vivo-2': 'gru',
      'nl-kpn-1': 'ams', 'nl-kpn-2': 'ams', 'nl-kpn-3': 'ams', 'nl-ziggo-1': 'iad', 'nl-ziggo-2': 'iad', 'nl-ziggo-3': 'iad',
      'sg-singtel-1': 'sin', 'sg-singtel-2': 'sin', 'us-comcast-1': 'iad', 'us-comcast-2': 'iad',
    })
    assert.equal(result.delivery.stored, result.delivery.measured)
  })

  it('scenario 2: a PoP withdraws; its vantage points change catchment and land on the next PoP', async () => {
    const withdraw = topology('withdraw')
    withdraw.events = [{ at_s: 50, pop_down: 'ams' }]
    const result = await runDemo(withdraw, { minutes: 2, dir })

    const moved = result.catchment.changes.map((change) => [change.probe, change.from_pop, change.to_pop])
    assert.deepEqual(moved.sort(), [['nl-kpn-1', 'ams', 'fra'], ['nl-kpn-2', 'ams', 'fra']])
    const probes = Object.fromEntries(result.catchment.probes.map((probe) => [probe.probe, probe]))
    assert.equal(probes['nl-kpn-1']?.pop, 'fra', 'their traffic now lands in Frankfurt')
    assert.equal(probes['de-dtag-1']?.pop, 'fra')
    assert.deepEqual(Object.keys(probes['de-dtag-1']?.pops ?? {}), ['fra'], 'Frankfurt’s own ISP never moved')
    assert.equal(result.delivery.by_pop.iad, 0, 'nobody was sent across the Atlantic')
    assert.ok(result.catchment.changes.every((change) => change.rtt_after_ms > change.rtt_before_ms), `the next PoP is farther: ${JSON.stringify(result.catchment.changes)}`)
  })

  it('scenario 3: the collector is killed and restarted mid-run; nothing is lost or stored twice', async () => {
    const restart = topology('collector-restart')
    restart.events = [
      { at_s: 15, collector: 'kill' },
      { at_s: 28, collector: 'start' },
    ]
    const result = await runDemo(restart, { minutes: 1, dir })
    assert.deepEqual(result.events.map((event) => event.event), ['collector killed (SIGKILL)', 'collector restarted'])
    const { measured, stored, distinct } = result.delivery
    assert.ok(measured > 100, `the fleet measured (${measured})`)
    assert.equal(stored, measured, 'every measurement the PoPs answered is stored')
    assert.equal(distinct, stored, 'none twice')
  })

  it('down is idempotent and leaves no namespace behind', () => {
    down(dir)
    down(dir)
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((line) => line.startsWith('ctm-'))
    assert.deepEqual(left, [])
  })
})
