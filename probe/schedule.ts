/**
 * A measurement schedule: what a probe measures and how often. The agent
 * reads it from its own config or from the collector (`schedule: remote`);
 * both use this one schema, so a schedule is valid in either place.
 */
import net from 'node:net'
import { z } from 'zod'
import { presetNames } from './pop.ts'

export const targetSchema = z
  .object({
    name: z.string().min(1).max(256),
    url: z
      .string()
      .url()
      .refine((value) => /^https?:\/\//i.test(value), 'must be an http:// or https:// URL'),
    /** Connect to this anycast address instead of resolving the URL's host. */
    resolve: z
      .string()
      .refine((value) => net.isIP(value) !== 0, 'must be an IPv4 or IPv6 address')
      .optional(),
    pop: z.enum(['auto', ...presetNames] as [string, ...string[]]).default('auto'),
    pop_header: z.string().min(1).optional(),
    interval_s: z.number().min(1).max(86_400).default(60),
    samples: z.number().int().min(1).max(100).default(3),
    timeout_ms: z.number().int().min(100).max(120_000).default(5000),
  })
  .strict()

export type Target = z.infer<typeof targetSchema>

export const scheduleSchema = z
  .object({
    targets: z.array(targetSchema),
    /** How often the agent should fetch the schedule again. */
    refresh_s: z.number().min(10).max(86_400).default(300),
  })
  .strict()

export type Schedule = z.infer<typeof scheduleSchema>

/** The first problem of a zod error as `key.path: message`, the way a person fixes a config. */
export function describeIssue(error: z.ZodError, source: string): string {
  const issue = error.issues[0]
  if (!issue) return `${source}: invalid`
  const path = issue.path.join('.')
  if (issue.code === 'unrecognized_keys') {
    const where = path ? `${path}.` : ''
    return `${source}: unknown key ${issue.keys.map((key) => `"${where}${key}"`).join(', ')}`
  }
  const message = issue.message.endsWith('received undefined') ? 'missing (required)' : issue.message
  return `${source}: ${path || 'config'}: ${message}`
}
