/**
 * A lab topology (YAML or JSON): PoPs announcing one anycast address, ISPs
 * with their BGP sessions to PoPs and their routing policy, vantage points in
 * ISPs, link delays (from geography, or given), and timed events.
 */
import { z } from 'zod'
import { parseWith, readConfigFile } from '../../probe/config-file.ts'
import { haversineKm } from '../../probe/geo/distance.ts'
import { presetNames } from '../../probe/pop.ts'

const code = z.string().regex(/^[a-z][a-z0-9]{1,7}$/, 'a short lower-case code')
const name = z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, 'a short lower-case name')

const linkSchema = z
  .object({
    pop: code,
    /** One-way delay; default: great-circle distance × inflation at 200 km/ms. */
    delay_ms: z.number().min(0).max(1000).optional(),
    /** Higher wins (BGP local preference); default prefers the shorter link. */
    local_pref: z.number().int().min(0).max(65535).optional(),
    /** The PoP prepends its AS this many times towards this ISP. */
    prepend: z.number().int().min(0).max(10).default(0),
  })
  .strict()

const eventSchema = z.union([
  z.object({ at_s: z.number().min(0), pop_down: code }).strict(),
  z.object({ at_s: z.number().min(0), pop_up: code }).strict(),
  z.object({ at_s: z.number().min(0), collector: z.enum(['kill', 'start']) }).strict(),
])

export const topologySchema = z
  .object({
    name: z.string().default('lab'),
    anycast: z.ipv4().default('203.0.113.10'),
    provider: z.enum(presetNames as [string, ...string[]]).default('fly'),
    /** How much longer real paths are than the great circle. */
    inflation: z.number().min(1).max(5).default(1.5),
    /** One-way delay from a vantage point to its ISP's router. */
    access_ms: z.number().min(0).max(100).default(1),
    probe: z
      .object({ interval_s: z.number().min(1).default(2), samples: z.number().int().min(1).default(2), timeout_ms: z.number().int().default(3000) })
      .strict()
      .prefault({}),
    pops: z.array(z.object({ code, lat: z.number(), lon: z.number(), city: z.string().optional() }).strict()).min(1),
    isps: z
      .array(
        z
          .object({ name, asn: z.number().int().min(1).max(4_294_967_295), city: z.string(), lat: z.number(), lon: z.number(), links: z.array(linkSchema).min(1) })
          .strict(),
      )
      .min(1),
    vantage_points: z
      .array(
        z
          .object({
            probe: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/),
            isp: name,
            city: z.string(),
            country: z.string().length(2),
            lat: z.number(),
            lon: z.number(),
          })
          .strict(),
      )
      .min(1),
    events: z.array(eventSchema).default([]),
  })
  .strict()
  .superRefine((topology, context) => {
    const pops = new Set(topology.pops.map((pop) => pop.code))
    const isps = new Set(topology.isps.map((isp) => isp.name))
    topology.isps.forEach((isp, i) =>
      isp.links.forEach((link, j) => {
        if (!pops.has(link.pop)) context.addIssue({ code: 'custom', path: ['isps', i, 'links', j, 'pop'], message: `no PoP "${link.pop}"` })
      }),
    )
    topology.vantage_points.forEach((vp, i) => {
      if (!isps.has(vp.isp)) context.addIssue({ code: 'custom', path: ['vantage_points', i, 'isp'], message: `no ISP "${vp.isp}"` })
    })
  })

export type Topology = z.infer<typeof topologySchema>
export type Isp = Topology['isps'][number]
export type IspLink = Isp['links'][number]

export class TopologyError extends Error {
  readonly code = 'TOPOLOGY'
}

export function loadTopology(file: string): Topology {
  return parseWith(topologySchema, readConfigFile(file), file)
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
