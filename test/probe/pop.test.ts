import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { customExtractor, popExtractor, PopSpecError } from '../../probe/pop.ts'

describe('reading the PoP from each provider’s header', () => {
  const cases: Array<[preset: string, headers: Record<string, string>, pop: string]> = [
    ['fly', { 'fly-request-id': '01h2abcxyz9876-ams' }, 'ams'],
    ['cloudflare', { 'cf-ray': '8c9a1b2c3d4e5f6a-FRA' }, 'fra'],
    ['fastly', { 'x-served-by': 'cache-jfk1041-JFK' }, 'jfk'],
    ['cloudfront', { 'x-amz-cf-pop': 'FRA56-P5' }, 'fra'],
    ['vercel', { 'x-vercel-id': 'fra1::iad1::82mqm-1700000000000-4a6b3c2d1e0f' }, 'fra'],
    ['bunny', { server: 'BunnyCDN-DE1-1013' }, 'de1'],
  ]
  for (const [preset, headers, pop] of cases) {
    it(`${preset}: ${Object.values(headers)[0]} → ${pop}`, () => {
      const raw = Object.values(headers)[0]
      assert.deepEqual(popExtractor({ preset }).extract(headers), { pop, raw })
      assert.deepEqual(popExtractor({}).extract(headers), { pop, raw }, 'auto finds it too')
    })
  }

  it('fastly with shielding: the edge that served the client is the last entry', () => {
    const match = popExtractor({ preset: 'fastly' }).extract({ 'x-served-by': 'cache-iad2120-IAD, cache-sjc3120-SJC' })
    assert.equal(match?.pop, 'sjc')
  })

  it('a preset does not read another provider’s header', () => {
    assert.equal(popExtractor({ preset: 'fly' }).extract({ 'cf-ray': '8c9a1b2c3d4e5f6a-FRA' }), null)
  })

  it('a header that is there but not in the provider’s format gives no PoP', () => {
    assert.equal(popExtractor({ preset: 'cloudfront' }).extract({ 'x-amz-cf-pop': 'garbage' }), null)
    assert.equal(popExtractor({ preset: 'bunny' }).extract({ server: 'nginx/1.25' }), null)
    assert.equal(popExtractor({}).extract({ server: 'nginx/1.25' }), null)
  })

  it('a repeated header is read as one folded value', () => {
    const match = popExtractor({ preset: 'fastly' }).extract({ 'x-served-by': ['cache-iad2120-IAD', 'cache-lcy19243-LCY'] })
    assert.equal(match?.pop, 'lcy')
  })
})

describe('--pop-header for anything else', () => {
  it('NAME alone takes the whole value, lower-cased', () => {
    assert.deepEqual(customExtractor('X-Pop').extract({ 'x-pop': 'SYD' }), { pop: 'syd', raw: 'SYD' })
  })

  it('NAME=REGEX takes the first capture group', () => {
    const extractor = customExtractor('x-edge=^edge-([a-z]+)\\d+')
    assert.equal(extractor.extract({ 'x-edge': 'edge-lhr12.example.net' })?.pop, 'lhr')
    assert.equal(extractor.extract({ 'x-edge': 'origin' }), null)
  })

  it('a custom header wins over the preset', () => {
    const extractor = popExtractor({ preset: 'fly', header: 'x-pop' })
    assert.equal(extractor.extract({ 'x-pop': 'nrt', 'fly-request-id': 'abc-ams' })?.pop, 'nrt')
  })

  it('a bad header name, regex or preset is a usage error', () => {
    assert.throws(() => customExtractor('bad header'), PopSpecError)
    assert.throws(() => customExtractor('x-pop=([a-z'), PopSpecError)
    assert.throws(() => popExtractor({ preset: 'akamai' }), /unknown preset "akamai"/)
  })
})
