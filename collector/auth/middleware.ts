/**
 * Bearer-token gates. Probe tokens open the probe surface only; the admin
 * surface needs the admin token, so a stolen probe cannot mint or revoke probes.
 */
import type { MiddlewareHandler } from 'hono'
import type { ProbeRecord } from '../store/probes.ts'
import type { ProbeDirectory } from './directory.ts'
import { sameSecret } from './tokens.ts'

export type ProbeVariables = { probe: ProbeRecord }

function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return match ? (match[1] as string) : null
}

function unauthorized(message: string): Response {
  return Response.json({ error: 'UNAUTHORIZED', message }, { status: 401, headers: { 'www-authenticate': 'Bearer' } })
}

export function probeAuth(directory: ProbeDirectory): MiddlewareHandler<{ Variables: ProbeVariables }> {
  return async function probeAuthMiddleware(c, next) {
    const token = bearer(c.req.header('authorization'))
    if (!token) return unauthorized('missing bearer token')
    const probe = await directory.authenticate(token)
    if (!probe) return unauthorized('unknown or revoked token')
    c.set('probe', probe)
    await next()
  }
}

/**
 * The admin token gate. Without a configured token the admin API is off
 * (404); read-only routes may instead stay open (`openWithoutToken`), which
 * is what a single-machine setup wants.
 */
export function adminAuth(adminToken: string | undefined, options: { openWithoutToken?: boolean } = {}): MiddlewareHandler {
  return async function adminAuthMiddleware(c, next) {
    if (!adminToken) {
      if (options.openWithoutToken) return next()
      return c.json({ error: 'ADMIN_DISABLED', message: 'no admin_token is configured' }, 404)
    }
    const token = bearer(c.req.header('authorization'))
    if (!token || !sameSecret(token, adminToken)) return unauthorized('admin token required')
    await next()
  }
}
