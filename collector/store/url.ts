/**
 * The store is chosen by URL, so one code path serves a laptop (embedded chDB)
 * and a fleet (a ClickHouse server, cluster or Cloud):
 *   chdb://./data                           embedded, data in ./data
 *   http(s)://user:pass@host:8123/catchment a server; the path names the database
 */
import path from 'node:path'

export type StoreLocation =
  | { kind: 'chdb'; path: string; database: string }
  | { kind: 'server'; url: string; username: string; password: string; database: string }

export const defaultStoreUrl = 'chdb://./data'
export const defaultDatabase = 'catchment'

export class StoreUrlError extends Error {
  readonly code = 'STORE_URL'
}

const databaseName = /^[A-Za-z_][A-Za-z0-9_]*$/

function checkDatabase(name: string): string {
  if (!databaseName.test(name)) throw new StoreUrlError(`store: "${name}" is not a valid database name`)
  return name
}

export function parseStoreUrl(raw: string): StoreLocation {
  if (raw.startsWith('chdb://')) {
    const rest = raw.slice('chdb://'.length)
    const [dir, query] = rest.split('?', 2)
    if (!dir) throw new StoreUrlError('store: chdb:// needs a directory, e.g. chdb://./data')
    const database = new URLSearchParams(query ?? '').get('database') ?? defaultDatabase
    return { kind: 'chdb', path: path.resolve(dir), database: checkDatabase(database) }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new StoreUrlError(`store: "${raw}" is not a URL (chdb://DIR or http(s)://user:pass@host:8123/db)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StoreUrlError(`store: unsupported scheme "${url.protocol}" (chdb://, http:// or https://)`)
  }
  const database = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, '')) || defaultDatabase
  const username = decodeURIComponent(url.username) || 'default'
  const password = decodeURIComponent(url.password)
  url.username = ''
  url.password = ''
  url.pathname = '/'
  return { kind: 'server', url: url.origin, username, password, database: checkDatabase(database) }
}

/** The URL with its password hidden, for logs and error messages. */
export function redactStoreUrl(raw: string): string {
  return raw.replace(/^(https?:\/\/[^:/@]+:)[^@]*@/, '$1***@')
}
