/**
 * Maps whatever Node or OpenSSL threw onto the stable codes of the wire
 * record. Failures are results here: a refused connection from one vantage
 * point is exactly the kind of thing the fleet exists to see.
 */
import type { ErrorCode } from './record.ts'

/** Our own per-sample deadline; its code survives any wrapping of it as a cause. */
export class SampleTimeoutError extends Error {
  readonly code = 'TIMEOUT'
  constructor(timeoutMs: number) {
    super(`sample did not finish within ${timeoutMs} ms`)
  }
}

const passThrough = new Set<string>(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])

const byCode: Record<string, ErrorCode> = {
  TIMEOUT: 'TIMEOUT',
  ETIMEDOUT: 'TIMEOUT',
  ENOTFOUND: 'DNS',
  EAI_AGAIN: 'DNS',
  EAI_FAIL: 'DNS',
  EAI_NODATA: 'DNS',
  EAI_NONAME: 'DNS',
  ENODATA: 'DNS',
  ESERVFAIL: 'DNS',
  ENONAME: 'DNS',
  EPIPE: 'ECONNRESET',
  ECONNABORTED: 'ECONNRESET',
  EPROTO: 'TLS',
}

// OpenSSL's verification failures (X509_V_ERR_* without the prefix) and Node's own.
const certificateCodes = /^(ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_.*|CERT_.*|.*_CERT_.*|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|ERR_TLS_.*CERT.*)$/

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code } = error as { code?: unknown }
  return typeof code === 'string' ? code : undefined
}

function classifyOne(code: string): ErrorCode | null {
  if (passThrough.has(code)) return code as ErrorCode
  const mapped = byCode[code]
  if (mapped) return mapped
  if (certificateCodes.test(code)) return 'TLS_CERT'
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'TLS'
  if (code.startsWith('HPE_')) return 'PROTOCOL'
  return null
}

/**
 * Walks the `cause` chain: when an error wraps another, the innermost specific
 * code (e.g. ECONNREFUSED under a generic socket error) is the informative one.
 */
export function classifyError(error: unknown): ErrorCode {
  const codes: string[] = []
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    const code = codeOf(current)
    if (code) codes.push(code)
    current = (current as { cause?: unknown }).cause
  }
  for (const code of codes.reverse()) {
    const known = classifyOne(code)
    if (known) return known
  }
  return 'NETWORK'
}

/** HTTP statuses that mean the request failed; 3xx is an answer, not a failure. */
export function statusError(status: number): ErrorCode | null {
  if (status >= 500) return 'HTTP_5XX'
  if (status >= 400) return 'HTTP_4XX'
  return null
}
