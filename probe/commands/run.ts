/**
 * `probe run <url...>`: the laptop question, "which PoP do I hit, and how
 * fast?", answered in a few seconds. Results go to stdout (a table, NDJSON or
 * CSV); progress goes to stderr and only when a person is watching.
 */
import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import cliProgress from 'cli-progress'
import { csvHeader, csvRow } from '../format/csv.ts'
import { locate, renderLocation } from '../format/location.ts'
import { renderTable } from '../format/table.ts'
import { location, nonNegativeInt, positiveInt, ipAddress, targetUrl } from '../options.ts'
import { popExtractor, presetNames, PopSpecError } from '../pop.ts'
import type { Measurement } from '../record.ts'
import { runSamples, type SampleSpec } from '../run.ts'
import { summarise } from '../summary.ts'
import { UsageError } from '../usage-error.ts'

interface RunOptions {
  count: number
  interval: number
  concurrency: number
  timeout: number
  pop: string
  popHeader?: string
  resolve?: string
  ipv4?: boolean
  ipv6?: boolean
  json?: boolean
  csv?: boolean
  follow?: boolean
  insecure?: boolean
  cacert?: string
  probe: string
  location?: { lat: number; lon: number }
}

/** Exit status when not a single sample succeeded: scripts tell "down" from "slow". */
export const allFailedExitCode = 2

const examples = `
Examples:
  $ probe run https://my-app.fly.dev/
      which PoP answers this laptop, and how fast (10 samples)
  $ probe run -n 50 --resolve 203.0.113.10 https://my-app.fly.dev/
      connect to one anycast address, keeping Host and SNI: BGP alone picks the PoP
  $ probe run --json https://a.example https://b.example > samples.ndjson
      the wire records, one JSON object per line
  $ probe run --pop-header 'x-edge=^edge-([a-z]+)' https://cdn.example/
      PoP code from a header of your own (first capture group)

Phases (ms): dns = name lookup, connect = TCP handshake (the network round trip),
tls = TLS handshake, ttfb = request sent → first response byte, total = whole sample.
Exit status: 0 measured, 1 usage error, 2 every sample failed.`

function loadCa(path: string | undefined): Buffer | undefined {
  if (!path) return undefined
  try {
    return readFileSync(path)
  } catch (error) {
    throw new UsageError(`--cacert: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}

function buildSpecs(urls: URL[], options: RunOptions): SampleSpec[] {
  let pop
  try {
    pop = popExtractor({ preset: options.pop, header: options.popHeader })
  } catch (error) {
    if (error instanceof PopSpecError) throw new UsageError(error.message)
    throw error
  }
  const ca = loadCa(options.cacert)
  const family = options.ipv4 ? 4 : options.ipv6 ? 6 : 0
  return urls.map((url) => ({
    url,
    target: url.host,
    probe: options.probe,
    pop,
    timeoutMs: options.timeout,
    resolve: options.resolve,
    family,
    maxRedirects: options.follow ? 5 : 0,
    insecure: options.insecure ?? false,
    ca,
  }))
}

/** A live "n/total" line on stderr, only when stderr is a terminal. */
function progressReporter(total: number): { tick(record: Measurement): void; stop(): void } {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'measuring [{bar}] {value}/{total} samples | {failed} failed | {duration}s',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let failed = 0
  bar.start(total, 0, { failed })
  return {
    tick(record) {
      if (record.error) failed++
      bar.increment(1, { failed })
    },
    stop: () => bar.stop(),
  }
}

export async function runCommandAction(urls: URL[], options: RunOptions): Promise<number> {
  if (options.json && options.csv) throw new UsageError('--json and --csv cannot be used together')
  const specs = buildSpecs(urls, options)
  const progress = options.json || options.csv ? { tick() {}, stop() {} } : progressReporter(specs.length * options.count)
  if (options.csv) process.stdout.write(csvHeader())

  const records = await runSamples(
    { targets: specs, count: options.count, intervalMs: options.interval, concurrency: options.concurrency },
    (record) => {
      if (options.json) process.stdout.write(`${JSON.stringify(record)}\n`)
      else if (options.csv) process.stdout.write(csvRow(record))
      else progress.tick(record)
    },
  )
  progress.stop()
  if (!options.json && !options.csv) {
    const rows = summarise(records, specs.map((spec) => spec.target))
    process.stdout.write(renderTable(rows))
    if (options.location) process.stdout.write(renderLocation(await locate(rows, options.location, options.pop), options.location))
  }
  return records.some((record) => record.error === null) ? 0 : allFailedExitCode
}

export function runCommand(): Command {
  return new Command('run')
    .description('measure which PoP of an anycast service answers, and how fast')
    .argument('<url...>', 'http(s) URLs to measure (a bare host means https://)', (value: string, previous: URL[] = []) => [
      ...previous,
      targetUrl(value),
    ])
    .option('-n, --count <n>', 'samples per URL', positiveInt, 10)
    .option('-i, --interval <ms>', 'spacing between the samples of one URL', nonNegativeInt, 100)
    .option('-c, --concurrency <n>', 'samples in flight at once', positiveInt, 4)
    .option('--timeout <ms>', 'deadline of one sample', positiveInt, 5000)
    .addOption(new Option('--pop <preset>', 'how to read the PoP from the response').choices(['auto', ...presetNames]).default('auto'))
    .option('--pop-header <NAME[=REGEX]>', 'read the PoP from this header (first capture group of REGEX)')
    .option('--resolve <address>', 'connect to this IP, keeping the URL for Host and SNI', ipAddress)
    .addOption(new Option('-4, --ipv4', 'resolve to IPv4 only').conflicts('ipv6'))
    .option('-6, --ipv6', 'resolve to IPv6 only')
    .addOption(new Option('--json', 'print wire records as NDJSON, nothing else').conflicts('csv'))
    .option('--csv', 'print wire records as CSV')
    .option('-L, --follow', 'follow redirects (up to 5); the record is the last hop')
    .option('-k, --insecure', 'do not verify TLS certificates')
    .option('--cacert <file>', 'trust this CA certificate (PEM) too')
    .option('--probe <id>', 'probe id written into the records', 'local')
    .option('--location <lat,lon>', 'where you are: adds the nearest PoP, its distance, and the geographic inflation', location)
    .addHelpText('after', examples)
    .showHelpAfterError('(add --help for usage)')
    .action(async (urls: URL[], options: RunOptions) => {
      process.exitCode = await runCommandAction(urls, options)
    })
}
