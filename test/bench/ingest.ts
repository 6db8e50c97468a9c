/**
 * Collector ingest on the embedded store (DESIGN.md targets: ≥ 100k
 * measurements/s sustained through the HTTP API, and ≥ 50 % of a direct raw
 * chDB insert of the same rows in the same run), and the acknowledgement
 * latency at a steady 10k measurements/s.
 *
 *   npm run build && node --import tsx test/bench/ingest.ts [--records 1000000] [--batch 5000] [--writers 2]
 *     [--probes 50] [--targets 5] [--span 3600] [--senders N]
 *
 * The fleet's shape decides what the rollups cost (lib/fleet.ts). The
 * default, 50 probes × 5 targets over an hour, measures each pair every
 * 0.9 s, so an insert's rows fold about 25 to 1 into the minute rollup. A
 * fleet of 2,000 probes × 100 targets every 10 s (`--probes 2000 --targets
 * 100 --span 50`) folds nothing within an insert when its agents send one
 * round a batch, as a live agent does (`--batch 100`); test/bench/rollup-cost.ts
 * measures what that costs.
 *
 * 1. raw: the rows (wire records with their probe's metadata, as the collector
 *    stores them) inserted straight into a fresh store with the same schema and
 *    views, 50,000 at a time as TabSeparated (the collector's own format),
 *    one insert at a time and then `writers` at a time; the faster is the bar;
 * 2. HTTP: the built `collector serve` in its own process, fed gzip NDJSON
 *    batches by concurrent senders (agents), each batch one probe's, as a fleet
 *    drains its spools after an outage: at least 32, and enough that the rows in
 *    flight fill every writer's insert and the next one. Each tenth of the
 *    records is timed apart, with the CPU it cost, so a long run (`--records
 *    30000000`, five minutes) shows whether the rate holds as the month's
 *    partition grows and its merges climb levels;
 * 3. latency: batches of 100 records sent on a fixed schedule at 10k/s for
 *    30 s (open loop: a slow answer does not slow the sender).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { Pool } from 'undici'
import { openStore } from '../../collector/store/client.ts'
import { migrate } from '../../collector/store/migrations.ts'
import { dropView, measurementsTable, qualified, rollupTable, rollupView } from '../../collector/store/schema.ts'
import type { Measurement } from '../../probe/record.ts'
import { repoRoot } from '../helpers/cli.ts'
import { fleetChunks, fleetInserts, fleetMetadata, fleetRecords, insertFleet, secondsBetweenSamples, type FleetShape } from './lib/fleet.ts'
import { machine, sampleProcess, threadCpuBetween, threadCpuSeconds, type ThreadCpu } from './lib/proc.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    /** Agents sending at once; by default enough to fill every writer's insert and the next one (see sendersFor). */
    senders: { type: 'string' },
    'steady-rate': { type: 'string', default: '10000' },
    'steady-seconds': { type: 'string', default: '30' },
    /** The collector's `ingest.writers` (inserts at once); the raw insert is measured with as many sessions. */
    writers: { type: 'string', default: '2' },
    /** The collector's `ingest.batch_rows` (rows per insert); the raw insert uses the same size. */
    'insert-rows': { type: 'string', default: '50000' },
    /** The fleet: its probes (2 per network, 10 per metro), the targets each measures, and the seconds the records span. */
    probes: { type: 'string', default: '50' },
    targets: { type: 'string', default: '5' },
    span: { type: 'string', default: '3600' },
    /**
     * How the minute rollup is fed (`rollups.minute`): `views`, or `folded` on a
     * schedule. Folded, a run ends when every row is folded (the admin API's
     * fold-now after the last acknowledgement), and the raw bar folds its rows
     * once after inserting them, in its time.
     */
    minute: { type: 'string', default: 'views' },
    /**
     * Folded: the bench asks for a fold (fold-now) each time the acknowledged
     * records cover another `fold-fleet-s` seconds of the fleet's time, as a
     * collector folding every 60 s (`fold_every_s`'s default) does in a fleet
     * that measures in real time. The records arrive several times faster than
     * the fleet measured them, so a timer in wall seconds would fold a smaller
     * share of the fleet's rounds at a time, and each fold's rollup rows would
     * fold fewer measurements.
     */
    'fold-fleet-s': { type: 'string', default: '60' },
    /**
     * Folded by the fleet's time: every so many of the fleet's seconds a fold
     * also folds the pending minutes into the hour rollups, as a collector
     * does every `hour_fold_every_s` (600 by default); the last fold always
     * does. A multiple of `fold-fleet-s`.
     */
    'hour-fold-fleet-s': { type: 'string', default: '600' },
    /** Folded: the collector's own timer instead, every so many wall seconds (`fold_every_s`). */
    'fold-every': { type: 'string' },
    /** With `fold-every`: the collector's own hour folds, every so many wall seconds (`hour_fold_every_s`, 600 by default). */
    'hour-fold-every': { type: 'string', default: '600' },
    /** Write a V8 CPU profile of the collector into this directory. */
    profile: { type: 'string' },
    /** Extra Node flags for the collector, e.g. --node-flag=--max-semi-space-size=32 to try a heap setting. */
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
})
const total = Number(values.records)
const batchSize = Number(values.batch)
const steadyRate = Number(values['steady-rate'])
const steadySeconds = Number(values['steady-seconds'])
const writers = Number(values.writers)
const insertRows = Number(values['insert-rows'])
const fleet: FleetShape = { probes: Number(values.probes), targets: Number(values.targets), spanMs: Number(values.span) * 1000 }
const folded = values.minute === 'folded'
/** Folded by the fleet's time: the records a fold covers (0 when the collector's timer folds). */
const recordsPerFold = folded && values['fold-every'] === undefined ? Math.round(((fleet.probes * fleet.targets) / secondsBetweenSamples(fleet, total)) * Number(values['fold-fleet-s'])) : 0
/** Folded by the fleet's time: every how many folds the hours are folded too. */
const foldsPerHourFold = Math.max(1, Math.round(Number(values['hour-fold-fleet-s']) / Number(values['fold-fleet-s'])))
if (!['views', 'folded'].includes(values.minute)) {
  console.error(`--minute must be views or folded, not ${values.minute}`)
  process.exit(2)
}
const collectorBin = path.join(repoRoot, 'dist/collector/cli.js')
if (!existsSync(collectorBin)) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}

interface Batch {
  probe: string
  body: Buffer
  count: number
}

/**
 * Batches as agents send them: one probe's records each, gzip NDJSON, the
 * probes taking turns as a fleet's batches arrive. Built before any clock starts.
 */
function agentBatches(list: Measurement[], size: number): Batch[] {
  const byProbe = new Map<string, Measurement[]>()
  for (const record of list) {
    const own = byProbe.get(record.probe)
    if (own) own.push(record)
    else byProbe.set(record.probe, [record])
  }
  const perProbe = [...byProbe].map(([probe, records]) => {
    const chunks: Batch[] = []
    for (let i = 0; i < records.length; i += size) {
      const slice = records.slice(i, i + size)
      chunks.push({ probe, body: gzipSync(slice.map((record) => JSON.stringify(record)).join('\n') + '\n'), count: slice.length })
    }
    return chunks
  })
  const batches: Batch[] = []
  for (let round = 0; batches.length < perProbe.reduce((sum, chunks) => sum + chunks.length, 0); round++) {
    for (const chunks of perProbe) if (chunks[round]) batches.push(chunks[round] as Batch)
  }
  return batches
}

/**
 * How many agents send at once. A sender holds one batch in flight, and an
 * insert can hold only rows that are in flight: at a fleet's shape a probe's
 * batch is a few hundred records, and 32 senders kept inserts at 16k rows,
 * which cost the engine twice as much per row as 50k (they measured the bench,
 * not the collector). So by default the senders carry the writers' inserts and
 * the next one's rows.
 */
function sendersFor(batches: readonly Batch[]): number {
  if (values.senders !== undefined) return Number(values.senders)
  const recordsPerBatch = batches.reduce((sum, batch) => sum + batch.count, 0) / Math.max(1, batches.length)
  return Math.max(32, Math.ceil(((writers + 1) * insertRows) / recordsPerBatch))
}

/**
 * The CPU that is neither the main thread's nor the merges', by thread name,
 * in µs a measurement, largest first: where "the rest" goes (chDB names its
 * pools' threads; Node's own helpers are all `node`).
 */
function restByThreadName(before: ThreadCpu[], after: ThreadCpu[], mainTid: number, measurements: number): string {
  const names = [...new Set(after.filter((thread) => thread.tid !== mainTid && thread.name !== 'MergeMutate').map((thread) => thread.name))]
  return names
    .map((name) => ({ name, micros: (threadCpuBetween(before, after, (thread) => thread.tid !== mainTid && thread.name === name) / measurements) * 1e6 }))
    .filter((entry) => entry.micros >= 0.05)
    .sort((a, b) => b.micros - a.micros)
    .map((entry) => `${entry.name} ${entry.micros.toFixed(1)}`)
    .join(', ')
}

/** When the acknowledged records reached another tenth of the run, and the collector's threads' CPU then. */
interface Tenth {
  at: number
  threads: ThreadCpu[]
}

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000)
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number

/** When the fleet's records end: the last is measured just before. */
const fleetEnd = Date.now()

/**
 * The raw bar's folds: all the rows in one, up to 6M (a fold of 30M ran out
 * of the engine's memory for a query, 3.7 GiB here), and otherwise windows of
 * the fleet's time, whole minutes, with at most as many rows each.
 */
function rawFoldWindows(): Array<{ from: number; to: number }> {
  const count = Math.ceil(total / 6_000_000)
  const startOfWindow = (k: number) => Math.floor((fleetEnd - fleet.spanMs + (k * fleet.spanMs) / count) / 60_000) * 60_000
  return Array.from({ length: count }, (_, k) => ({ from: startOfWindow(k), to: k === count - 1 ? fleetEnd : startOfWindow(k + 1) }))
}

/**
 * The engine's own speed, the bar for the collector: the rows serialized
 * before the clock starts, then inserted 50,000 at a time by `writers`
 * sessions side by side (one, then as many as the collector runs), through
 * the same input table the collector writes to, the fastest way in.
 */
async function rawInsert(inserts: readonly Buffer[], writers: number): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-raw-'))
  const store = await openStore(`chdb://${dir}`, { roles: ['ingest', 'registry'], ingestSessions: writers })
  try {
    await migrate(store, { retentionDays: 400 })
    const context = { database: store.database, retentionDays: 400 }
    if (folded) await store.client('registry').command({ query: dropView(context, rollupView) })
    const began = performance.now()
    await insertFleet(store, inserts, writers)
    // The rows in as few folds as the engine's memory allows, the cheapest folds can be: the bar the collector's folds are held to.
    if (folded) {
      for (const window of rawFoldWindows()) {
        await store.client('ingest').command({
          query: `INSERT INTO ${qualified(context, rollupTable.name)} ${rollupView.select(`${qualified(context, measurementsTable.name)}
            WHERE ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({to:Int64}, 'UTC')`)}`,
          query_params: window,
          clickhouse_settings: { optimize_on_insert: 0 },
        })
      }
    }
    return performance.now() - began
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Collector {
  url: string
  pid: number
  stop(): Promise<void>
}

async function startCollector(dir: string): Promise<Collector> {
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []
  const config = path.join(dir, 'collector.json')
  // Folds by the fleet's time are asked for by the bench; the collector's own timer then stays out of the way.
  const [foldEverySeconds, hourFoldEverySeconds] = values['fold-every'] === undefined ? [3600, 3600] : [Number(values['fold-every']), Number(values['hour-fold-every'])]
  writeFileSync(
    config,
    JSON.stringify({ ingest: { writers, batch_rows: insertRows }, rollups: { minute: values.minute, fold_every_s: foldEverySeconds, hour_fold_every_s: hourFoldEverySeconds } }),
  )
  const child = spawn(process.execPath, [...profile, ...(values['node-flag'] ?? []), collectorBin, 'serve', '--port', '0', '--host', '127.0.0.1', '--store', `chdb://${path.join(dir, 'data')}`, '--config', config], {
    env: { ...process.env, CATCHMENT_LOG_LEVEL: 'warn', CATCHMENT_ADMIN_TOKEN: 'bench-admin-token-0123456789' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`collector exited ${code}`)))
  })
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`collector exited unexpectedly: code ${code}, signal ${signal}`)
  })
  let stopping = false
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: () =>
      new Promise((resolve) => {
        stopping = true
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

async function main(): Promise<void> {
  console.error(`building ${total.toLocaleString('en')} records…`)
  const building = performance.now()
  // The raw bar's inserts and the agents' batches, from the same records, made a chunk at a time (whole inserts, and whole rounds at the shapes used).
  const inserts: Buffer[] = []
  const batches: Batch[] = []
  for (const chunk of fleetChunks(fleet, total, insertRows * Math.max(1, Math.round(1_000_000 / insertRows)), fleetEnd)) {
    inserts.push(...fleetInserts(fleet, chunk, insertRows))
    batches.push(...agentBatches(chunk, batchSize))
  }
  console.error(`  built in ${((performance.now() - building) / 1000).toFixed(0)} s`)

  console.error('raw chDB insert…')
  const rawSerial = rate(total, await rawInsert(inserts, 1))
  console.error(`  one insert at a time: ${rawSerial.toLocaleString('en')} rows/s`)
  const rawRate = writers > 1 ? rate(total, await rawInsert(inserts, writers)) : rawSerial
  if (writers > 1) console.error(`  ${writers} at a time: ${rawRate.toLocaleString('en')} rows/s`)
  // The bar is the faster way: on a busy machine two inserts at a time are sometimes slower than one.
  const rawBar = Math.max(rawSerial, rawRate)

  const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-ingest-'))
  const collector = await startCollector(dir)
  // Unbounded: the senders (and the steady phase's schedule) bound the connections.
  const pool = new Pool(collector.url, { connections: null, pipelining: 1 })
  try {
    const tokens = new Map<string, string>()
    for (let p = 0; p < fleet.probes; p++) {
      const response = await pool.request({
        path: '/v1/admin/probes',
        method: 'POST',
        headers: { authorization: 'Bearer bench-admin-token-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ probe: `bench-${p}`, ...fleetMetadata(fleet, `bench-${p}`) }),
      })
      const body = (await response.body.json()) as { token: string }
      tokens.set(`bench-${p}`, body.token)
    }

    const senders = sendersFor(batches)
    // As an agent marks them: a batch's first POST is attempt 1, and only a resend is looked up.
    const send = async (batch: Batch, attempt = 1) => {
      const response = await pool.request({
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
        path: '/v1/measurements',
        method: 'POST',
        headers: {
          authorization: `Bearer ${tokens.get(batch.probe)}`,
          'content-type': 'application/x-ndjson',
          'content-encoding': 'gzip',
          'x-catchment-attempt': String(attempt),
        },
        body: batch.body,
      })
      const body = (await response.body.json()) as { accepted?: number }
      return { status: response.statusCode, accepted: body.accepted ?? 0 }
    }
    /** Sent again on a dropped connection until the collector answers, as an agent does (the ids make a resend safe). */
    const sendAnswered = async (batch: Batch, onDropped: (error: Error) => void, firstAttempt = 1) => {
      for (let attempt = firstAttempt; ; attempt++) {
        try {
          return { ...(await send(batch, attempt)), attempt }
        } catch (error) {
          onDropped(error as Error)
        }
      }
    }

    console.error(`HTTP ingest: ${batches.length} batches of ≤ ${batchSize}, ${senders} senders…`)
    const cpuBefore = sampleProcess(collector.pid)
    const threadsBefore = threadCpuSeconds(collector.pid)
    let next = 0
    let accepted = 0
    let throttled = 0
    let networkErrors = 0
    const onDropped = (error: Error) => {
      if (networkErrors++ === 0) console.error(`  first network error: ${error.message}`)
    }
    // Folds by the fleet's time, one at a time, beside the inserts.
    const foldNow = async (hours: 'now' | 'when_due' = 'now') => {
      const response = await pool.request({ path: `/v1/admin/rollups/fold?hours=${hours}`, method: 'POST', headers: { authorization: 'Bearer bench-admin-token-0123456789' }, headersTimeout: 600_000, bodyTimeout: 600_000 })
      if (response.statusCode !== 200) throw new Error(`fold-now answered ${response.statusCode}: ${await response.body.text()}`)
      await response.body.dump()
    }
    let foldsBeside = 0
    let nextFoldAt = recordsPerFold
    let foldRunning: Promise<void> = Promise.resolve()
    const began = performance.now()
    // Whether the rate holds as the partition grows and its merges climb levels: each tenth of the records timed apart.
    const tenths: Tenth[] = [{ at: began, threads: threadsBefore }]
    const tenthOf = total / 10
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < batches.length) {
          const batch = batches[next++] as Batch
          for (let attempt = 1; ; ) {
            const result = await sendAnswered(batch, onDropped, attempt)
            if (result.status === 200) {
              accepted += result.accepted
              while (tenths.length <= 10 && accepted >= tenthOf * tenths.length) tenths.push({ at: performance.now(), threads: threadCpuSeconds(collector.pid) })
              if (recordsPerFold > 0 && accepted >= nextFoldAt) {
                nextFoldAt += recordsPerFold
                foldsBeside++
                const hours = foldsBeside % foldsPerHourFold === 0 ? 'now' : 'when_due'
                foldRunning = foldRunning.then(() => foldNow(hours))
              }
              break
            }
            if (result.status !== 429) throw new Error(`ingest answered ${result.status}`)
            throttled++
            attempt = result.attempt + 1
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
        }
      }),
    )
    const ackedMs = performance.now() - began
    let foldMs = 0
    if (folded) {
      const foldBegan = performance.now()
      await foldRunning
      await foldNow()
      foldMs = performance.now() - foldBegan
      console.error(`  every row acknowledged after ${(ackedMs / 1000).toFixed(1)} s (${rate(accepted, ackedMs).toLocaleString('en')}/s), and folded ${(foldMs / 1000).toFixed(1)} s later`)
    }
    const httpMs = ackedMs + foldMs
    const cpuAfter = sampleProcess(collector.pid)
    const threadsAfter = threadCpuSeconds(collector.pid)
    const mainThreadSeconds = threadCpuBetween(threadsBefore, threadsAfter, (thread) => thread.tid === collector.pid)
    const mergeSeconds = threadCpuBetween(threadsBefore, threadsAfter, (thread) => thread.name === 'MergeMutate')
    const collectorCpuSeconds = cpuAfter.cpuSeconds - cpuBefore.cpuSeconds
    const httpRate = rate(accepted, httpMs)
    const metrics = await (await pool.request({ path: '/metrics', method: 'GET' })).body.text()
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
    const inserts = metric('catchment_insert_duration_seconds_count')
    const insertSeconds = metric('catchment_insert_duration_seconds_sum')
    console.error(`  ${inserts} inserts of ${Math.round(metric('catchment_insert_rows_sum') / inserts)} rows on average, ${(insertSeconds / inserts * 1000).toFixed(0)} ms each; the store was busy ${((insertSeconds / (httpMs / 1000)) * 100).toFixed(0)} % of the time`)
    console.error(`  ${httpRate.toLocaleString('en')} measurements/s (${throttled} answers 429, ${networkErrors} dropped connections)`)

    // Steady load: fresh records (not duplicates), 100 per request.
    const steadyBatch = 100
    const steadyRecords = fleetRecords(fleet, steadyRate * steadySeconds, total, Date.now() + 3_600_000)
    const steadyBatches = agentBatches(steadyRecords, steadyBatch)
    console.error(`steady ${steadyRate.toLocaleString('en')} measurements/s for ${steadySeconds} s…`)
    const latencies: number[] = []
    let steadyNetworkErrors = 0
    const intervalMs = (steadyBatch / steadyRate) * 1000
    const steadyStart = performance.now()
    const inFlight: Array<Promise<void>> = []
    for (let i = 0; i < steadyBatches.length; i++) {
      const due = steadyStart + i * intervalMs
      const wait = due - performance.now()
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
      inFlight.push(
        // A batch whose connection was dropped is sent again; the latency counts from when it was due, so the resend is in it.
        sendAnswered(steadyBatches[i] as Batch, () => steadyNetworkErrors++).then((result) => {
          if (result.status !== 200) throw new Error(`steady ingest answered ${result.status}`)
          latencies.push(performance.now() - due)
        }),
      )
    }
    await Promise.all(inFlight)
    latencies.sort((a, b) => a - b)

    console.log(`\nCollector ingest (embedded chDB), ${total.toLocaleString('en')} measurements`)
    console.log(`machine: ${machine()}`)
    const foldSchedule =
      recordsPerFold > 0
        ? `folded after each ${values['fold-fleet-s']} s of the fleet's measurements (${foldsBeside} folds beside the inserts), into the hours after each ${foldsPerHourFold * Number(values['fold-fleet-s'])} s (${Math.floor(foldsBeside / foldsPerHourFold)} hour folds beside them)`
        : `folded every ${values['fold-every']} s, into the hours every ${values['hour-fold-every']} s`
    console.log(`  minute rollup: ${folded ? `${foldSchedule}, and at the end (HTTP: folding what was left took ${(foldMs / 1000).toFixed(1)} s; acknowledgements alone ${rate(accepted, ackedMs).toLocaleString('en')}/s)` : 'by its view, on every insert'}`)
    console.log(`  fleet: ${fleet.probes.toLocaleString('en')} probes × ${fleet.targets} targets, each pair measured every ${secondsBetweenSamples(fleet, total).toPrecision(2)} s, over ${values.span} s`)
    console.log(`  raw chDB insert (${insertRows.toLocaleString('en')}-row TabSeparated inserts): ${rawSerial.toLocaleString('en')} rows/s one at a time${writers > 1 ? `, ${rawRate.toLocaleString('en')} rows/s ${writers} at a time` : ''}`)
    console.log(`  HTTP API (gzip NDJSON, ${batchSize}/batch, ${senders} senders, ${writers} writers, ${throttled} 429s, ${networkErrors} dropped connections retried): ${httpRate.toLocaleString('en')} measurements/s = ${((httpRate / rawBar) * 100).toFixed(0)} % of raw (the faster raw figure); collector CPU ${((collectorCpuSeconds / (httpMs / 1000)) * 100).toFixed(0)} % of one core`)
    const microsPerRow = (seconds: number) => ((seconds / accepted) * 1e6).toFixed(1)
    // chDB runs each insert's pipeline partly on the libuv thread that called it, and zlib inflates there too, so only the main thread is Node's alone.
    console.log(
      `  collector CPU per measurement: ${microsPerRow(collectorCpuSeconds)} µs, of which the JS main thread (HTTP, parsing, checking, encoding) ${microsPerRow(mainThreadSeconds)} µs, ` +
        `chDB's background merges ${microsPerRow(mergeSeconds)} µs, and the rest (chDB's inserts and views, on its pool and libuv's; gunzip; V8's helpers) ${microsPerRow(collectorCpuSeconds - mainThreadSeconds - mergeSeconds)} µs`,
    )
    console.log(`    the rest by thread name: ${restByThreadName(threadsBefore, threadsAfter, collector.pid, accepted)}`)
    const tenthFigures = tenths.slice(1).map((tenth, i) => {
      const before = tenths[i] as Tenth
      const micros = (which: (thread: ThreadCpu) => boolean) => (threadCpuBetween(before.threads, tenth.threads, which) / tenthOf) * 1e6
      const mainThread = micros((thread) => thread.tid === collector.pid)
      const merges = micros((thread) => thread.name === 'MergeMutate')
      const rest = micros(() => true) - mainThread - merges
      return { rate: rate(tenthOf, tenth.at - before.at), mainThread, merges, rest }
    })
    console.log(`  a tenth of the records at a time (acknowledgements, with the folds beside them): ${tenthFigures.map((tenth) => `${tenth.rate.toLocaleString('en')}/s`).join(', ')}`)
    console.log(`    µs a measurement (main thread / merges / the rest): ${tenthFigures.map((tenth) => [tenth.mainThread, tenth.merges, tenth.rest].map((micros) => micros.toFixed(1)).join(' / ')).join(', ')}`)
    console.log(`  ack latency at a steady ${steadyRate.toLocaleString('en')}/s (${steadyBatch}/batch): p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p95 ${quantile(latencies, 0.95).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms (${steadyNetworkErrors} dropped connections retried)`)
    console.log(`  targets: ≥ 100,000/s ${httpRate >= 100_000 ? 'met' : 'missed'}; ≥ 50 % of raw (the faster raw figure) ${httpRate >= rawBar / 2 ? 'met' : 'missed'}`)
  } finally {
    await pool.close()
    await collector.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
