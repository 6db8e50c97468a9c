/** The human summary of `probe run`: one aligned row per target and PoP. */
import type { SummaryRow } from '../summary.ts'

/** Sub-10 ms values keep two decimals: on a near PoP the difference is in them. */
export function formatMs(value: number | null): string {
  if (value === null) return '-'
  return value < 10 ? value.toFixed(2) : value.toFixed(1)
}

function formatErrors(row: SummaryRow): string {
  if (row.errors === 0) return '0'
  const codes = Object.entries(row.errorCodes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${count} ${code}`)
  return codes.join(', ')
}

const header = ['TARGET', 'POP', 'ADDRESS', 'SAMPLES', 'SHARE', 'CONNECT MIN', 'P50', 'P95', 'TLS P50', 'TTFB P50', 'TOTAL P50', 'ERRORS']
// Numbers read best right-aligned; names and the error list left-aligned.
const rightAligned = new Set([3, 4, 5, 6, 7, 8, 9, 10])

/** Pads every column to its widest cell, two spaces apart; `rightAligned` columns (numbers) pad on the left. */
export function alignColumns(rows: readonly string[][], rightAligned: ReadonlySet<number> = new Set()): string[] {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)))
  return rows.map((row) =>
    row
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

export function renderTable(rows: readonly SummaryRow[]): string {
  const cells = rows.map((row) => [
    row.target,
    row.pop ?? '?',
    row.addresses.join(' ') || '-',
    String(row.samples),
    `${Math.round(row.share * 100)}%`,
    formatMs(row.connectMin),
    formatMs(row.connectP50),
    formatMs(row.connectP95),
    formatMs(row.tlsP50),
    formatMs(row.ttfbP50),
    formatMs(row.totalP50),
    formatErrors(row),
  ])
  return `${alignColumns([header, ...cells], rightAligned).join('\n')}\n(times in ms)\n`
}
