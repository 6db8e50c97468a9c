/** `collector findings`: the on-call's question, "who is routed badly, and since when?", from a terminal. */
import { Command, Option } from 'commander'
import { request } from 'undici'
import { findFindings, unknownPops, type Finding, type UnknownPop } from '../analysis/findings.ts'
import { PopLocationSync } from '../analysis/pop-sync.ts'
import { parseSince } from '../analysis/since.ts'
import { openStore } from '../store/client.ts'
import { migrate } from '../store/migrations.ts'
import type { Severity } from '../../probe/geo/distance.ts'
import { alignColumns } from '../../probe/format/table.ts'
import { UsageError } from '../../probe/usage-error.ts'
import { resolveConfig, type StoreOptions } from './common.ts'

interface FindingsOptions extends StoreOptions {
  since: string
  target?: string
  severity: Severity
  json?: boolean
  collector?: string
  adminToken?: string
}

interface FindingsAnswer {
  since: string
  findings: Finding[]
  unknown_pops: UnknownPop[]
}

async function fromCollector(options: FindingsOptions): Promise<FindingsAnswer> {
  const url = new URL('/v1/findings', options.collector)
  url.searchParams.set('since', options.since)
  url.searchParams.set('severity', options.severity)
  if (options.target) url.searchParams.set('target', options.target)
  const token = options.adminToken ?? process.env.CATCHMENT_ADMIN_TOKEN
  let response
  try {
    response = await request(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  } catch (error) {
    throw new UsageError(`cannot reach the collector at ${url.origin}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  const body = (await response.body.json()) as FindingsAnswer & { message?: string }
  if (response.statusCode !== 200) throw new UsageError(`collector answered ${response.statusCode}: ${body.message ?? ''}`)
  return body
}

async function fromStore(options: FindingsOptions): Promise<FindingsAnswer> {
  const since = parseSince(options.since)
  const config = resolveConfig(options)
  const store = await openStore(config.store, { roles: ['query', 'registry'] })
  try {
    await migrate(store, { retentionDays: config.retention_days })
    await new PopLocationSync(store, config).ensureFresh(true)
    const [findings, unknown] = await Promise.all([
      findFindings(store, { since, target: options.target, severity: options.severity }),
      unknownPops(store, since, options.target),
    ])
    return { since: since.toISOString(), findings, unknown_pops: unknown }
  } finally {
    await store.close()
  }
}

const num = (value: number | null, digits = 1) => (value === null || value === undefined ? '-' : Number(value).toFixed(digits))

export function renderFindings(answer: FindingsAnswer): string {
  const header = ['SEVERITY', 'KIND', 'TARGET', 'ASN', 'ISP', 'METRO', 'SERVED', 'KM', 'NEAREST', 'KM', 'GI MS', 'LI MS', 'RTT', 'PEER RTT', 'PROBES', 'SINCE']
  const rows = answer.findings.map((f) => [
    f.severity + (f.confidence === 'low' ? '*' : ''),
    f.kind,
    f.target,
    String(f.asn),
    f.isp || '-',
    f.metro,
    f.served_pop,
    num(f.served_km, 0),
    f.nearest_pop,
    num(f.nearest_km, 0),
    num(f.gi_ms),
    num(f.li_ms),
    num(f.rtt_ms),
    num(f.peer_rtt_ms),
    String(f.probes),
    f.first_seen,
  ])
  const lines: string[] = []
  if (rows.length === 0) lines.push(`no findings since ${answer.since}`)
  else {
    lines.push(...alignColumns([header, ...rows]))
    if (answer.findings.some((f) => f.confidence === 'low')) lines.push('* rests on fewer than 3 probes')
  }
  for (const unknown of answer.unknown_pops) {
    lines.push(`unknown PoP "${unknown.pop}" for ${unknown.target} (${unknown.samples} samples): add it under pops: in the collector config`)
  }
  return `${lines.join('\n')}\n`
}

export function findingsCommand(): Command {
  return new Command('findings')
    .description('ISPs and metros routed to a far PoP, or on slow paths, with GI, LI and peer RTT')
    .option('--since <duration>', 'window: 30m, 1h, 7d, or an ISO time', '1h')
    .option('--target <name>', 'only this target')
    .addOption(new Option('--severity <level>', 'lowest severity shown').choices(['info', 'warn', 'high', 'severe']).default('warn'))
    .option('--json', 'the API’s JSON instead of a table')
    .option('--store <url>', 'read the store directly (env CATCHMENT_STORE)')
    .option('--config <file>', 'collector config (PoP overrides, schedule providers)')
    .option('--collector <url>', 'ask a running collector instead of the store')
    .option('--admin-token <token>', 'for --collector when it has one (env CATCHMENT_ADMIN_TOKEN)')
    .action(async (options: FindingsOptions) => {
      const answer = options.collector ? await fromCollector(options) : await fromStore(options)
      process.stdout.write(options.json ? `${JSON.stringify(answer, null, 2)}\n` : renderFindings(answer))
    })
}
