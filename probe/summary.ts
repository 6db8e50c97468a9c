/**
 * Per target and PoP, what an engineer wants to know after `probe run`: who
 * answered, how often, and how fast. Two rows for one target is the case that
 * matters (the catchment is split, or flapping).
 */
import type { Measurement } from './record.ts'
import { quantile, sortedValues } from './stats.ts'

export interface SummaryRow {
  target: string
  /** null when no PoP could be identified (failed samples, or no known header). */
  pop: string | null
  /** Distinct addresses connected to for this row, usually the one anycast IP. */
  addresses: string[]
  samples: number
  /** Fraction of the target's samples this PoP answered. */
  share: number
  connectMin: number | null
  connectP50: number | null
  connectP95: number | null
  tlsP50: number | null
  ttfbP50: number | null
  totalP50: number | null
  errors: number
  /** Error code → count, for the samples of this row that failed. */
  errorCodes: Record<string, number>
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group) group.push(item)
    else groups.set(k, [item])
  }
  return groups
}

function summariseRow(target: string, targetTotal: number, records: Measurement[]): SummaryRow {
  const connect = sortedValues(records, (r) => r.connect_ms)
  const errorCodes: Record<string, number> = {}
  for (const record of records) {
    if (record.error) errorCodes[record.error] = (errorCodes[record.error] ?? 0) + 1
  }
  return {
    target,
    pop: records[0]?.pop ?? null,
    addresses: [...new Set(records.map((r) => r.address).filter((a): a is string => a !== null))],
    samples: records.length,
    share: records.length / targetTotal,
    connectMin: connect[0] ?? null,
    connectP50: quantile(connect, 0.5),
    connectP95: quantile(connect, 0.95),
    tlsP50: quantile(sortedValues(records, (r) => r.tls_ms), 0.5),
    ttfbP50: quantile(sortedValues(records, (r) => r.ttfb_ms), 0.5),
    totalP50: quantile(sortedValues(records, (r) => r.total_ms), 0.5),
    errors: records.filter((r) => r.error !== null).length,
    errorCodes,
  }
}

/**
 * Rows by target (in `targetOrder`, as the user listed them, else first seen),
 * PoPs by share (largest first), the unknown PoP last.
 */
export function summarise(records: readonly Measurement[], targetOrder: readonly string[] = []): SummaryRow[] {
  const rows: SummaryRow[] = []
  const byTarget = [...groupBy(records, (r) => r.target)]
  const rank = (target: string) => {
    const at = targetOrder.indexOf(target)
    return at < 0 ? targetOrder.length : at
  }
  byTarget.sort((a, b) => rank(a[0]) - rank(b[0]))
  for (const [target, ofTarget] of byTarget) {
    const byPop = groupBy(ofTarget, (r) => r.pop ?? '')
    const targetRows = [...byPop.values()].map((group) => summariseRow(target, ofTarget.length, group))
    targetRows.sort((a, b) => Number(a.pop === null) - Number(b.pop === null) || b.samples - a.samples)
    rows.push(...targetRows)
  }
  return rows
}
