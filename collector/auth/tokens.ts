/**
 * Probe tokens: `ctk_<selector>_<secret>`. The selector finds the probe's row
 * without revealing anything; the secret is stored only as a SHA-256 (it is
 * 32 random bytes, so a slow hash would add nothing) and compared in constant
 * time, so a timing side channel cannot recover it byte by byte.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export interface IssuedToken {
  token: string
  selector: string
  secretSha256: string
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

export function issueToken(): IssuedToken {
  const selector = randomBytes(9).toString('base64url')
  const secret = randomBytes(32).toString('base64url')
  return { token: `ctk_${selector}_${secret}`, selector, secretSha256: sha256Hex(secret) }
}

export interface ParsedToken {
  selector: string
  secret: string
}

const tokenShape = /^ctk_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/

export function parseToken(token: string): ParsedToken | null {
  const match = tokenShape.exec(token)
  return match ? { selector: match[1] as string, secret: match[2] as string } : null
}

/** Constant-time equality of a presented secret against a stored SHA-256. */
export function secretMatches(secret: string, storedSha256: string): boolean {
  const presented = Buffer.from(sha256Hex(secret), 'hex')
  const stored = Buffer.from(storedSha256, 'hex')
  return presented.length === stored.length && timingSafeEqual(presented, stored)
}

/** Constant-time comparison of two arbitrary strings (the admin token), via their digests. */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(expected).digest())
}
