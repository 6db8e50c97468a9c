import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { freePort, killChildren, runCli, startAgentProcess, startServe, waitFor, waitUntil, type ServingProcess } from '../helpers/cli.ts'
import { queryStore, tempDir } from '../helpers/collector.ts'
import { answerWith, startServer, type TestServer } from '../helpers/servers.ts'

/**
 * The fleet's promise, tested with real processes: every measurement the
 * agent makes reaches the store exactly once, through collector outages and
 * agent crashes. The target server counts the requests it answered; each one
 * is one sample, so it is the ground truth for how many records must exist.
 */

// A failed assertion must not leave a collector or agent running: the test run would never end.
after(killChildren)

describe('probe agent delivers every measurement exactly once', () => {
  const dir = tempDir('agent')
  const store = `chdb://${dir}/data`
  let target: TestServer
  after(async () => {
    await target?.close()
    rmSync(dir, { recursive: true, force: true })
  })
  before(async () => {
    target = await startServer(answerWith({ 'fly-request-id': '01h2abcxyz9876-ams' }))
  })

  async function registerProbe(id: string): Promise<string> {
    const result = await runCli('collector', ['probe', 'add', id, '--store', store])
    assert.equal(result.code, 0, result.stderr)
    return result.stdout.trim()
  }

  function writeAgentConfig(name: string, config: Record<string, unknown>): string {
    const file = path.join(dir, `${name}.yaml`)
    writeFileSync(file, stringify(config))
    return file
  }

  async function storedCounts(probe: string): Promise<{ rows: number; ids: number }> {
    const [row] = await queryStore<{ rows: string; ids: string }>(
      store,
      'SELECT count() AS rows, uniqExact(id) AS ids FROM catchment.measurements WHERE probe = {probe:String}',
      { probe },
    )
    return { rows: Number(row?.rows), ids: Number(row?.ids) }
  }

  const requestsFor = (probe: string) => target.requests.filter((request) => request.path === `/${probe}`).length

  it('rides out a collector outage: everything measured meanwhile arrives, once', async () => {
    const token = await registerProbe('outage-1')
    const port = await freePort()
    const config = writeAgentConfig('outage', {
      collector: `http://127.0.0.1:${port}`,
      token,
      probe: 'outage-1',
      targets: [{ name: 'edge', url: `${target.url('/outage-1')}`, interval_s: 1, samples: 2, timeout_ms: 2000 }],
      batch: { max_wait_s: 0.5, retry_max_s: 2 },
    })
    let collector: ServingProcess = await startServe(['--store', store, '--port', String(port)])
    const agent = startAgentProcess(config, path.join(dir, 'spool-outage'))
    await waitFor(3000)

    assert.equal(await collector.stop('SIGKILL'), null, 'the collector is gone, hard')
    await waitFor(4000)
    assert.match(agent.logs(), /delivery failed; will retry/)
    collector = await startServe(['--store', store, '--port', String(port)])
    await waitFor(4000)
    assert.match(agent.logs(), /collector reachable again/)

    assert.equal(await agent.stop('SIGTERM'), 0, agent.logs())
    assert.equal(await collector.stop('SIGTERM'), 0)
    const measured = requestsFor('outage-1')
    assert.ok(measured >= 10, `the agent measured through the outage (${measured} samples)`)
    assert.deepEqual(await storedCounts('outage-1'), { rows: measured, ids: measured })
  })

  it('survives SIGKILL: the spooled records arrive after a restart, none twice', async () => {
    const token = await registerProbe('crash-1')
    const port = await freePort()
    const spool = path.join(dir, 'spool-crash')
    const collector = await startServe(['--store', store, '--port', String(port)])
    const base = {
      collector: `http://127.0.0.1:${port}`,
      token,
      probe: 'crash-1',
      targets: [{ name: 'edge', url: `${target.url('/crash-1')}`, interval_s: 1, samples: 3, timeout_ms: 2000 }],
    }
    // A long batch wait, so records are still in the spool when the agent dies.
    const first = startAgentProcess(writeAgentConfig('crash-a', { ...base, batch: { max_wait_s: 60 } }), spool)
    await waitFor(3500)
    assert.equal(await first.stop('SIGKILL'), null)
    const spooledLines = readdirSync(spool)
      .filter((name) => name.endsWith('.ndjson'))
      .reduce((sum, name) => sum + readFileSync(path.join(spool, name), 'utf8').split('\n').filter(Boolean).length, 0)
    assert.ok(spooledLines >= 6, `records were spooled before the crash (${spooledLines})`)

    const second = startAgentProcess(writeAgentConfig('crash-b', { ...base, batch: { max_wait_s: 0.5 } }), spool)
    await waitFor(2500)
    assert.match(second.logs(), /resuming spool/)
    assert.equal(await second.stop('SIGTERM'), 0, second.logs())
    assert.equal(await collector.stop('SIGTERM'), 0)

    const stored = await storedCounts('crash-1')
    assert.equal(stored.rows, stored.ids, 'no record stored twice')
    assert.ok(stored.rows >= spooledLines, `every spooled record arrived (${stored.rows} ≥ ${spooledLines})`)
    // Only a round cut off by the kill (measured, never spooled) may be missing.
    assert.ok(requestsFor('crash-1') - stored.rows <= 3, `${requestsFor('crash-1')} measured, ${stored.rows} stored`)
  })

  it('a full spool drops the oldest records, counts them, and tells the collector', async () => {
    const token = await registerProbe('full-1')
    const port = await freePort()
    const config = writeAgentConfig('full', {
      collector: `http://127.0.0.1:${port}`,
      token,
      probe: 'full-1',
      targets: [{ name: 'edge', url: `${target.url('/full-1')}`, interval_s: 1, samples: 5, timeout_ms: 2000 }],
      spool: { max_bytes: 4096 },
      batch: { max_wait_s: 0.5, retry_max_s: 1 },
      heartbeat_s: 5,
    })
    // No collector yet: the spool fills up (about 3 rounds of 5 records; a loaded machine may take longer).
    const agent = startAgentProcess(config, path.join(dir, 'spool-full'))
    assert.ok(await waitUntil(() => /spool full: dropped the oldest records/.test(agent.logs()), 20_000), agent.logs())

    const collector = await startServe(['--store', store, '--port', String(port)])
    await waitFor(3000)
    assert.equal(await agent.stop('SIGTERM'), 0, agent.logs())
    assert.equal(await collector.stop('SIGTERM'), 0)

    const [heartbeat] = await queryStore<{ dropped: string }>(
      store,
      "SELECT max(dropped_total) AS dropped FROM catchment.probe_heartbeats WHERE probe = 'full-1'",
    )
    const dropped = Number(heartbeat?.dropped)
    const stored = await storedCounts('full-1')
    assert.ok(dropped > 0, 'the heartbeat reported drops')
    assert.equal(stored.rows, stored.ids)
    assert.equal(stored.rows + dropped, requestsFor('full-1'), 'every measurement is either stored or counted as dropped')
  })

  it('measures the targets the collector schedules for it (schedule: remote)', async () => {
    const token = await registerProbe('remote-1')
    const port = await freePort()
    const collectorConfig = path.join(dir, 'collector-remote.yaml')
    writeFileSync(collectorConfig, stringify({ schedule: { targets: [{ name: 'from-collector', url: target.url('/remote-1'), interval_s: 1, samples: 1 }] } }))
    const collector = await startServe(['--store', store, '--port', String(port), '--config', collectorConfig])
    const agent = startAgentProcess(
      writeAgentConfig('remote', { collector: `http://127.0.0.1:${port}`, token, probe: 'remote-1', schedule: 'remote', batch: { max_wait_s: 0.5 } }),
      path.join(dir, 'spool-remote'),
    )
    await waitFor(3000)
    assert.equal(await agent.stop('SIGTERM'), 0, agent.logs())
    assert.equal(await collector.stop('SIGTERM'), 0)
    const [row] = await queryStore<{ c: string; target: string }>(store, "SELECT count() AS c, any(target) AS target FROM catchment.measurements WHERE probe = 'remote-1'")
    assert.ok(Number(row?.c) >= 1)
    assert.equal(row?.target, 'from-collector')
  })

  it('a collector folding its minutes, killed twice mid-stream: every measurement counted once in every rollup', async () => {
    const token = await registerProbe('folded-1')
    const port = await freePort()
    const configFor = (foldEverySeconds: number) => {
      const file = path.join(dir, `collector-folded-${foldEverySeconds}.yaml`)
      writeFileSync(file, stringify({ name: 'folding-collector', rollups: { minute: 'folded', fold_every_s: foldEverySeconds } }))
      return file
    }
    const serve = (foldEverySeconds = 1) => startServe(['--store', store, '--port', String(port), '--config', configFor(foldEverySeconds)])
    let collector = await serve()
    const agent = startAgentProcess(
      writeAgentConfig('folded', {
        collector: `http://127.0.0.1:${port}`,
        token,
        probe: 'folded-1',
        targets: [{ name: 'folded-edge', url: target.url('/folded-1'), interval_s: 1, samples: 3, timeout_ms: 2000 }],
        batch: { max_wait_s: 0.3, retry_max_s: 1 },
      }),
      path.join(dir, 'spool-folded'),
    )
    // Killed at odd moments, so a kill may land between a fold and its ledger entry as well as between folds.
    await waitFor(2300)
    assert.equal(await collector.stop('SIGKILL'), null)
    collector = await serve()
    await waitFor(3700)
    assert.equal(await collector.stop('SIGKILL'), null)
    // The last run never folds on its schedule: what it received is folded when it stops, or never.
    collector = await serve(3600)
    await waitFor(3000)
    assert.equal(await agent.stop('SIGTERM'), 0, agent.logs())
    assert.equal(await collector.stop('SIGTERM'), 0)

    const measured = requestsFor('folded-1')
    const tiers = ['measurements_1m', 'measurements_1m_live', 'measurements_1h', 'measurements_1h_net', 'measurements_1d', 'measurements_1d_net']
    // By target: the network rollups have no probe, and only this probe measures this one.
    const sums = tiers.map((table) => `(SELECT sum(samples) FROM catchment.${table} WHERE target = 'folded-edge') AS ${table}`)
    const [row] = await queryStore<Record<string, string>>(store, `SELECT (SELECT count() FROM catchment.measurements WHERE target = 'folded-edge') AS raw, ${sums.join(', ')}`)
    assert.ok(measured >= 15, `the agent measured through both kills (${measured} samples)`)
    assert.deepEqual(
      Object.fromEntries(Object.entries(row ?? {}).map(([key, value]) => [key, Number(value)])),
      Object.fromEntries(['raw', ...tiers].map((key) => [key, measured])),
    )
  })
})

describe('a bad agent config gets one clear message', () => {
  const dir = tempDir('agent-config')
  after(() => rmSync(dir, { recursive: true, force: true }))

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a typo in a target key',
      { collector: 'http://127.0.0.1:1', token: 't', probe: 'p', targets: [{ name: 'a', url: 'https://a.example/', intreval_s: 10 }] },
      /unknown key "targets\.0\.intreval_s"/,
    ],
    ['a missing token', { collector: 'http://127.0.0.1:1', probe: 'p', targets: [] }, /token: missing \(required\)/],
    ['neither targets nor a remote schedule', { collector: 'http://127.0.0.1:1', token: 't', probe: 'p' }, /give either "targets" or "schedule: remote"/],
    ['a collector that is not a URL', { collector: 'collector.example', token: 't', probe: 'p', targets: [] }, /collector:/],
    ['a country that is not a code', { collector: 'http://127.0.0.1:1', token: 't', probe: 'p', country: 'Netherlands', targets: [] }, /country: must be a two-letter ISO 3166 code/],
  ]
  for (const [what, config, message] of cases) {
    it(`${what}: names the key and exits 1`, async () => {
      const file = path.join(dir, 'agent.yaml')
      writeFileSync(file, stringify(config))
      const result = await runCli('probe', ['agent', '--config', file, '--spool', path.join(dir, 'spool')])
      assert.equal(result.code, 1)
      assert.match(result.stderr, message)
      assert.match(result.stderr, /^probe: error: .*agent\.yaml: /)
      assert.doesNotMatch(result.stderr, /\n\s+at /)
    })
  }

  it('a spool already used by a running agent is refused', async () => {
    const config = path.join(dir, 'locked.yaml')
    writeFileSync(config, stringify({ collector: 'http://127.0.0.1:1', token: 't', probe: 'p', targets: [] }))
    const spool = path.join(dir, 'shared-spool')
    const first = startAgentProcess(config, spool)
    await waitFor(1500)
    const second = await runCli('probe', ['agent', '--config', config, '--spool', spool])
    await first.stop()
    assert.equal(second.code, 1)
    assert.match(second.stderr, /spool .* is in use by process \d+/)
  })
})
