/**
 * Answers "which probe is this token?" from memory. Token checks sit in front
 * of every ingest request, so they must not wait on the store (or on a
 * dashboard query running there); the directory reloads the registry in the
 * background and looks a selector up directly only when it has never seen it
 * (a probe added by another collector a moment ago).
 */
import type { ProbeRecord, ProbeRegistry } from '../store/probes.ts'
import { parseToken, secretMatches } from './tokens.ts'

export interface DirectoryOptions {
  /** How often the whole registry is reloaded: the most a revocation elsewhere takes to apply here. */
  refreshMs: number
  /** How long an unknown selector is remembered as unknown, so bad tokens cannot flood the store. */
  negativeMs: number
}

export class ProbeDirectory {
  private bySelector = new Map<string, ProbeRecord>()
  private unknown = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly registry: ProbeRegistry,
    private readonly options: DirectoryOptions = { refreshMs: 10_000, negativeMs: 10_000 },
  ) {}

  async start(): Promise<void> {
    await this.reload()
    this.timer = setInterval(() => {
      this.reload().catch(() => {
        // Keep serving the last good copy; the next tick tries again.
      })
    }, this.options.refreshMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  async reload(): Promise<void> {
    const next = new Map<string, ProbeRecord>()
    for (const record of await this.registry.list()) next.set(record.selector, record)
    this.bySelector = next
    this.unknown.clear()
  }

  /** Applies a change made through this collector at once, without waiting for a reload. */
  remember(record: ProbeRecord): void {
    this.bySelector.set(record.selector, record)
    this.unknown.delete(record.selector)
  }

  /** The live (not revoked) probe this token belongs to, or null. */
  async authenticate(token: string): Promise<ProbeRecord | null> {
    const parsed = parseToken(token)
    if (!parsed) return null
    let record = this.bySelector.get(parsed.selector)
    if (!record) {
      const unknownSince = this.unknown.get(parsed.selector)
      if (unknownSince !== undefined && Date.now() - unknownSince < this.options.negativeMs) return null
      record = (await this.registry.bySelector(parsed.selector)) ?? undefined
      if (!record) {
        this.unknown.set(parsed.selector, Date.now())
        return null
      }
      this.remember(record)
    }
    if (!secretMatches(parsed.secret, record.secretSha256)) return null
    return record.revokedAt === null ? record : null
  }
}
