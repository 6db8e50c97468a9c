/** Wire records as CSV (RFC 4180), columns in wire-record order, for spreadsheets. */
import type { Measurement } from '../record.ts'

export const csvColumns = [
  'id', 'ts', 'probe', 'target', 'kind', 'url', 'address', 'pop', 'pop_raw', 'status', 'error',
  'dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'total_ms', 'server_ms',
] as const satisfies readonly (keyof Measurement)[]

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function csvHeader(): string {
  return `${csvColumns.join(',')}\n`
}

export function csvRow(record: Measurement): string {
  return `${csvColumns.map((column) => csvCell(record[column])).join(',')}\n`
}
