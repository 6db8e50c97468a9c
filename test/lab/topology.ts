/**
 * A lab topology (YAML or JSON): PoPs announcing one anycast address, ISPs
 * with their BGP sessions to PoPs and their routing policy, vantage points in
 * ISPs, link delays (from geography, or given), and timed events.
 */
import * as v from 'valibot'
import { ConfigError, parseWith, readConfigFile } from '../../probe/config-file.ts'
import { haversineKm } from '../../probe/geo/distance.ts'
import { presetNames } from '../../probe/pop.ts'
import { bounded, boundedInteger } from '../../probe/validation.ts'

const code = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9]{1,7}$/, 'a short lower-case code'))
const name = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,15}$/, 'a short lower-case name'))
const degrees = v.number()
const atSeconds = v.pipe(v.number(), v.minValue(0))

const linkSchema = v.strictObject({
  pop: code,
  /** One-way delay; default: great-circle distance × inflation at 200 km/ms. */
  delay_ms: v.optional(bounded(0, 1000)),
  /** Higher wins (BGP local preference); default prefers the shorter link. */
  local_pref: v.optional(boundedInteger(0, 65535)),
  /** The PoP prepends its AS this many times towards this ISP. */
  prepend: v.optional(boundedInteger(0, 10), 0),
})

const eventSchema = v.union([
  v.strictObject({ at_s: atSeconds, pop_down: code }),
  v.strictObject({ at_s: atSeconds, pop_up: code }),
  v.strictObject({ at_s: atSeconds, collector: v.picklist(['kill', 'start']) }),
])

const nonEmpty = <Item extends v.GenericSchema>(item: Item) => v.pipe(v.array(item), v.minLength(1))

export const topologySchema = v.strictObject({
  name: v.optional(v.string(), 'lab'),
  anycast: v.optional(v.pipe(v.string(), v.ipv4()), '203.0.113.10'),
  provider: v.optional(v.picklist(presetNames), 'fly'),
  /** How much longer real paths are than the great circle. */
  inflation: v.optional(bounded(1, 5), 1.5),
  /** One-way delay from a vantage point to its ISP's router. */
  access_ms: v.optional(bounded(0, 100), 1),
  probe: v.optional(
    v.strictObject({
      interval_s: v.optional(bounded(1, 86_400), 2),
      samples: v.optional(boundedInteger(1, 100), 2),
      timeout_ms: v.optional(v.pipe(v.number(), v.integer()), 3000),
    }),
    {},
  ),
  pops: nonEmpty(v.strictObject({ code, lat: degrees, lon: degrees, city: v.optional(v.string()) })),
  isps: nonEmpty(
    v.strictObject({ name, asn: boundedInteger(1, 4_294_967_295), city: v.string(), lat: degrees, lon: degrees, links: nonEmpty(linkSchema) }),
  ),
  vantage_points: nonEmpty(
    v.strictObject({
      probe: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,30}$/)),
      isp: name,
      city: v.string(),
      country: v.pipe(v.string(), v.length(2)),
      lat: degrees,
      lon: degrees,
    }),
  ),
  events: v.optional(v.array(eventSchema), () => []),
})

export type Topology = v.InferOutput<typeof topologySchema>
export type Isp = Topology['isps'][number]
export type IspLink = Isp['links'][number]

export class TopologyError extends Error {
  readonly code = 'TOPOLOGY'
}

export function loadTopology(file: string): Topology {
  const topology = parseWith(topologySchema, readConfigFile(file), file)
  const dangling = danglingReference(topology)
  if (dangling) throw new ConfigError(`${file}: ${dangling}`)
  return topology
}

/** A link to a PoP, or a vantage point in an ISP, that the topology does not define. */
function danglingReference(topology: Topology): string | null {
  const pops = new Set(topology.pops.map((pop) => pop.code))
  const isps = new Set(topology.isps.map((isp) => isp.name))
  for (const [i, isp] of topology.isps.entries()) {
    for (const [j, link] of isp.links.entries()) if (!pops.has(link.pop)) return `isps.${i}.links.${j}.pop: no PoP "${link.pop}"`
  }
  for (const [i, vp] of topology.vantage_points.entries()) if (!isps.has(vp.isp)) return `vantage_points.${i}.isp: no ISP "${vp.isp}"`
  return null
}

/** One-way delay of an ISP–PoP link: given, or the fibre time over the inflated great circle. */
export function linkDelayMs(topology: Topology, isp: Isp, link: IspLink): number {
  if (link.delay_ms !== undefined) return link.delay_ms
  const pop = topology.pops.find((candidate) => candidate.code === link.pop)
  if (!pop) throw new TopologyError(`no PoP "${link.pop}"`)
  return (haversineKm(isp, pop) * topology.inflation) / 200
}

/** Local preference: the topology's, else one that prefers the shorter link (hot potato). */
export function localPref(topology: Topology, isp: Isp, link: IspLink): number {
  return link.local_pref ?? Math.max(1, 1000 - Math.round(linkDelayMs(topology, isp, link)))
}
