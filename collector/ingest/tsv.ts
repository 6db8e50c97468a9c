/**
 * Rows as ClickHouse TabSeparated text. The embedded engine parses it about
 * three times as fast as JSONEachRow (186k against 60k rows/s on the
 * benchmark machine), and parsing, not writing, is what an insert costs.
 */
import type { Measurement } from '../../probe/record.ts'
import type { ProbeMetadata } from '../store/probes.ts'

/** The wire record's fields, in the order rows hold them. */
export const recordColumns = [
  'id', 'ts', 'probe', 'target', 'kind', 'url', 'address', 'pop', 'pop_raw', 'status', 'error',
  'dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'total_ms', 'server_ms',
] as const satisfies ReadonlyArray<keyof Measurement>

const metadataColumns = ['asn', 'isp', 'country', 'city', 'lat', 'lon'] as const satisfies ReadonlyArray<keyof ProbeMetadata>

/** The columns written, in order: the wire record's fields, then its probe's metadata, so analysis needs no join, then the receipt. */
export const rowColumns: readonly string[] = [...recordColumns, ...metadataColumns, 'received_at', 'collector']

/**
 * Which collector received a request's rows, and when (its clock, in ms).
 * A collector folding the minute rollup on a schedule folds only its own
 * rows, by windows of this time that no row still in its queue can fall in.
 */
export interface Receipt {
  collector: string
  receivedAt: number
}

/** Received now by a collector whose minute view counts the rows: they carry no name. */
export const unnamedReceipt = (): Receipt => ({ collector: '', receivedAt: Date.now() })

const special = /[\\\t\n\r\0]/
const specials = /[\\\t\n\r\0]/g
const escapes: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }

/** A string escaped so that no value can end a field or a row early. */
const escaped = (value: string): string => (special.test(value) ? value.replace(specials, (char) => escapes[char] as string) : value)

/** Any field (the probe's metadata): `\N` for NULL. */
function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  return typeof value === 'string' ? escaped(value) : String(value)
}

/** Free text (url, address, pop_raw): any character may need escaping. */
const text = (value: string | null): string => (value === null ? '\\N' : escaped(value))

/** A name (probe, target): the schema refuses control characters, so only a backslash needs escaping. */
const name = (value: string): string => (value.includes('\\') ? value.replaceAll('\\', '\\\\') : value)

/** A value the schema limits to characters TabSeparated takes as they are (PoP code, error code), or NULL. */
const plain = (value: string | null): string => (value === null ? '\\N' : value)

const number = (value: number | null): string => (value === null ? '\\N' : `${value}`)

/**
 * The probe's metadata and the request's receipt as the end of every one of
 * its rows, encoded once per batch rather than once per row.
 */
export function metadataTail(metadata: ProbeMetadata, receipt: Receipt = unnamedReceipt()): string {
  let tail = ''
  for (const column of metadataColumns) tail += `\t${field(metadata[column])}`
  return `${tail}\t${new Date(receipt.receivedAt).toISOString()}\t${escaped(receipt.collector)}\n`
}

/**
 * One validated record as a row, ending in `tail` (its probe's metadata), in
 * `recordColumns` order. Written out field by field, each escaped only as far
 * as the schema leaves room for (the id, time and kind need nothing): a loop
 * over the column names read the record by computed key and escaped every
 * field alike, and cost a microsecond more per row at full ingest.
 */
export function tsvRow(record: Measurement, tail: string): string {
  return (
    `${record.id}\t${record.ts}\t${name(record.probe)}\t${name(record.target)}\t${record.kind}\t${text(record.url)}\t${text(record.address)}\t` +
    `${plain(record.pop)}\t${text(record.pop_raw)}\t${number(record.status)}\t${plain(record.error)}\t` +
    `${number(record.dns_ms)}\t${number(record.connect_ms)}\t${number(record.tls_ms)}\t${number(record.ttfb_ms)}\t${number(record.total_ms)}\t${number(record.server_ms)}${tail}`
  )
}
