import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { parseStoreUrl, redactStoreUrl } from '../../collector/store/url.ts'

describe('choosing the store by URL', () => {
  it('chdb://DIR is the embedded store, relative to where the collector runs', () => {
    assert.deepEqual(parseStoreUrl('chdb://./data'), { kind: 'chdb', path: path.resolve('data'), database: 'catchment' })
    assert.deepEqual(parseStoreUrl('chdb:///var/lib/catchment?database=prod'), { kind: 'chdb', path: '/var/lib/catchment', database: 'prod' })
  })

  it('http(s)://user:pass@host:port/db is a ClickHouse server; the path names the database', () => {
    assert.deepEqual(parseStoreUrl('https://writer:s%40cret@ch.example.net:8443/fleet'), {
      kind: 'server',
      url: 'https://ch.example.net:8443',
      username: 'writer',
      password: 's@cret',
      database: 'fleet',
    })
    assert.deepEqual(parseStoreUrl('http://localhost:8123'), {
      kind: 'server',
      url: 'http://localhost:8123',
      username: 'default',
      password: '',
      database: 'catchment',
    })
  })

  it('refuses what it cannot use, saying why', () => {
    assert.throws(() => parseStoreUrl('chdb://'), /needs a directory/)
    assert.throws(() => parseStoreUrl('mysql://x'), /unsupported scheme "mysql:"/)
    assert.throws(() => parseStoreUrl('http://h:8123/bad-name;DROP'), /not a valid database name/)
    assert.throws(() => parseStoreUrl('not a url'), /is not a URL/)
  })

  it('hides the password when the URL is logged', () => {
    assert.equal(redactStoreUrl('https://writer:s3cret@ch.example.net:8443/fleet'), 'https://writer:***@ch.example.net:8443/fleet')
  })
})
