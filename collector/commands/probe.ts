/**
 * `collector probe add|list|revoke`: straight on the store, or through a
 * running collector's admin API (`--collector URL`) — needed for an embedded
 * store, which only the process that opened it can use.
 */
import { Command, InvalidArgumentError } from 'commander'
import { request } from 'undici'
import * as v from 'valibot'
import { probeMetadataSchema } from '../../probe/metadata.ts'
import { publicProbe } from '../routes/admin.ts'
import { alignColumns } from '../../probe/format/table.ts'
import { describeIssue } from '../../probe/validation.ts'
import { UsageError } from '../../probe/usage-error.ts'
import { openStore } from '../store/client.ts'
import { migrate } from '../store/migrations.ts'
import { ProbeRegistry } from '../store/probes.ts'
import { resolveConfig, type StoreOptions } from './common.ts'

interface RemoteOptions extends StoreOptions {
  collector?: string
  adminToken?: string
}

interface AddOptions extends RemoteOptions {
  asn?: number
  isp?: string
  country?: string
  city?: string
  lat?: number
  lon?: number
  tag: string[]
}

type PublicProbe = ReturnType<typeof publicProbe>

function number(value: string): number {
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError('must be a number.')
  return parsed
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

async function withRegistry<T>(options: StoreOptions, job: (registry: ProbeRegistry) => Promise<T>): Promise<T> {
  const config = resolveConfig(options)
  const store = await openStore(config.store, { roles: ['registry'] })
  try {
    await migrate(store, { retentionDays: config.retention_days })
    return await job(new ProbeRegistry(store))
  } finally {
    await store.close()
  }
}

async function callAdmin<T>(options: RemoteOptions, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const token = options.adminToken ?? process.env.CATCHMENT_ADMIN_TOKEN
  if (!token) throw new UsageError('--collector needs the admin token (--admin-token or CATCHMENT_ADMIN_TOKEN)')
  const url = new URL(path, options.collector)
  let response
  try {
    response = await request(url, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (error) {
    throw new UsageError(`cannot reach the collector at ${url.origin}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  const payload = (await response.body.json().catch(() => ({}))) as T & { message?: string }
  if (response.statusCode >= 400) throw new UsageError(`collector answered ${response.statusCode}: ${payload.message ?? 'error'}`)
  return payload
}

function remoteOptions(command: Command): Command {
  return command
    .option('--store <url>', 'chdb://DIR or http(s)://user:pass@host:8123/db (env CATCHMENT_STORE)')
    .option('--config <file>', 'collector config file')
    .option('--collector <url>', 'use this running collector’s admin API instead of the store')
    .option('--admin-token <token>', 'admin token for --collector (env CATCHMENT_ADMIN_TOKEN)')
}

function printProbes(probes: PublicProbe[], json: boolean): void {
  if (json) {
    for (const probe of probes) process.stdout.write(`${JSON.stringify(probe)}\n`)
    return
  }
  const rows = [['PROBE', 'ASN', 'ISP', 'COUNTRY', 'CITY', 'LAT', 'LON', 'TAGS', 'STATUS']]
  for (const p of probes) {
    rows.push([p.probe, String(p.asn || '-'), p.isp || '-', p.country || '-', p.city || '-', p.lat === null ? '-' : String(p.lat), p.lon === null ? '-' : String(p.lon), p.tags.join(',') || '-', p.revokedAt ? `revoked ${p.revokedAt}` : 'active'])
  }
  for (const line of alignColumns(rows)) process.stdout.write(`${line}\n`)
}

export function probeCommand(): Command {
  const probe = new Command('probe').description('register, list and revoke probes')

  probe.addCommand(
    remoteOptions(new Command('add'))
      .description('register a probe; prints its token, alone, on stdout (keep it: it is not stored)')
      .argument('<id>', 'probe id, e.g. ams-home-1')
      .option('--asn <n>', 'the probe’s autonomous system number', number)
      .option('--isp <name>', 'the ISP’s name')
      .option('--country <cc>', 'ISO 3166 two-letter country code')
      .option('--city <name>', 'city (metro) of the vantage point')
      .option('--lat <degrees>', 'latitude', number)
      .option('--lon <degrees>', 'longitude', number)
      .option('--tag <tag>', 'a tag for schedule selection (repeatable)', collect, [])
      .action(async (id: string, options: AddOptions) => {
        const metadata = v.safeParse(probeMetadataSchema, {
          asn: options.asn,
          isp: options.isp,
          country: options.country,
          city: options.city,
          lat: options.lat,
          lon: options.lon,
          tags: options.tag,
        })
        if (!metadata.success) throw new UsageError(describeIssue(metadata.issues, 'probe add'))
        const token = options.collector
          ? (await callAdmin<{ token: string }>(options, 'POST', '/v1/admin/probes', { probe: id, ...metadata.output })).token
          : (await withRegistry(options, (registry) => registry.add(id, metadata.output))).token
        process.stdout.write(`${token}\n`)
      }),
  )

  probe.addCommand(
    remoteOptions(new Command('list'))
      .description('list probes')
      .option('--json', 'one JSON object per probe')
      .action(async (options: RemoteOptions & { json?: boolean }) => {
        const probes = options.collector
          ? (await callAdmin<{ probes: PublicProbe[] }>(options, 'GET', '/v1/admin/probes')).probes
          : await withRegistry(options, async (registry) => (await registry.list()).map(publicProbe))
        printProbes(probes, options.json ?? false)
      }),
  )

  probe.addCommand(
    remoteOptions(new Command('revoke'))
      .description('revoke a probe’s token; its measurements stay')
      .argument('<id>', 'probe id')
      .action(async (id: string, options: RemoteOptions) => {
        if (options.collector) await callAdmin(options, 'POST', `/v1/admin/probes/${encodeURIComponent(id)}/revoke`)
        else await withRegistry(options, (registry) => registry.revoke(id))
        process.stderr.write(`revoked ${id}\n`)
      }),
  )
  return probe
}
