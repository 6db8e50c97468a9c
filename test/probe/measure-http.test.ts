import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { X509Certificate } from 'node:crypto'
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls'
import { checkServerName } from '../../probe/measure/connector.ts'
import { measureHttp, type HttpSampleOptions } from '../../probe/measure/http.ts'
import { popExtractor } from '../../probe/pop.ts'
import { validateMeasurement, type Measurement } from '../../probe/record.ts'
import { answerWith, makeCertificate, startRawServer, startServer, type TestCertificate } from '../helpers/servers.ts'

function sample(url: string, options: Partial<HttpSampleOptions> = {}): Promise<Measurement> {
  return measureHttp({
    url: new URL(url),
    target: new URL(url).host,
    probe: 'test',
    pop: popExtractor({}),
    timeoutMs: 3000,
    ...options,
  })
}

/** Every record, failed or not, must be one the collector accepts. */
function assertValid(record: Measurement): void {
  const result = validateMeasurement(JSON.parse(JSON.stringify(record)))
  assert.ok(result.ok, `invalid record: ${JSON.stringify(result)}`)
}

describe('measuring a plain HTTP server', () => {
  it('a 50 ms wait before the headers shows in ttfb, not in connect', async () => {
    const server = await startServer(answerWith({ 'fly-request-id': '01h2abcxyz9876-ams' }, { delayMs: 50 }))
    try {
      const record = await sample(server.url('/health'))
      assertValid(record)
      assert.equal(record.error, null)
      assert.equal(record.status, 200)
      assert.equal(record.pop, 'ams')
      assert.equal(record.pop_raw, '01h2abcxyz9876-ams')
      assert.equal(record.address, '127.0.0.1')
      assert.equal(record.tls_ms, null, 'no TLS on plain HTTP')
      assert.ok(record.dns_ms !== null, 'localhost was resolved')
      assert.ok(record.connect_ms !== null && record.connect_ms < 20, `connect_ms ${record.connect_ms}`)
      assert.ok(record.ttfb_ms !== null && record.ttfb_ms >= 50, `ttfb_ms ${record.ttfb_ms}`)
      assert.ok(record.total_ms !== null && record.total_ms >= record.ttfb_ms, 'total covers ttfb')
      assert.equal(record.url, server.url('/health'))
    } finally {
      await server.close()
    }
  })

  it('each sample opens a fresh connection, so each measures the handshake', async () => {
    const ports = new Set<number>()
    const server = await startServer((request, response) => {
      ports.add(request.socket.remotePort as number)
      response.end('ok')
    })
    try {
      for (let i = 0; i < 3; i++) assert.ok((await sample(server.url())).connect_ms !== null)
      assert.equal(ports.size, 3)
    } finally {
      await server.close()
    }
  })

  it('reports server_ms from Server-Timing', async () => {
    const server = await startServer(answerWith({ 'server-timing': 'edge;dur=2, origin;dur=31.5' }))
    try {
      assert.equal((await sample(server.url())).server_ms, 31.5)
    } finally {
      await server.close()
    }
  })

  it('an HTTP error status is a failed sample that still names the PoP that answered', async () => {
    const server = await startServer(answerWith({ 'cf-ray': '8c9a1b2c3d4e5f6a-SIN' }, { status: 503 }))
    try {
      const record = await sample(server.url())
      assertValid(record)
      assert.equal(record.error, 'HTTP_5XX')
      assert.equal(record.status, 503)
      assert.equal(record.pop, 'sin')
    } finally {
      await server.close()
    }
  })

  it('a 404 is HTTP_4XX', async () => {
    const server = await startServer(answerWith({}, { status: 404 }))
    try {
      assert.equal((await sample(server.url())).error, 'HTTP_4XX')
    } finally {
      await server.close()
    }
  })

  it('a redirect is reported, not followed, unless asked', async () => {
    const server = await startServer((request, response) => {
      if (request.url === '/final') return answerWith({ 'fly-request-id': 'x-fra' })(request, response)
      response.writeHead(301, { location: '/final', 'fly-request-id': 'x-ams' }).end()
    })
    try {
      const reported = await sample(server.url('/start'))
      assert.equal(reported.status, 301)
      assert.equal(reported.error, null)
      assert.equal(reported.pop, 'ams')

      const followed = await sample(server.url('/start'), { maxRedirects: 5 })
      assert.equal(followed.status, 200)
      assert.equal(followed.pop, 'fra')
      assert.equal(followed.url, server.url('/final'))
    } finally {
      await server.close()
    }
  })

  it('stops reading a body at the cap, so an endless body still finishes', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const server = await startServer((_request, response) => {
      response.writeHead(200)
      const pump = () => {
        while (response.write(chunk));
      }
      response.on('drain', pump)
      response.on('close', () => response.off('drain', pump))
      pump()
    })
    try {
      const record = await sample(server.url(), { maxBodyBytes: 256 * 1024, timeoutMs: 2000 })
      assert.equal(record.error, null)
      assert.ok(record.total_ms !== null && record.total_ms < 2000)
    } finally {
      await server.close()
    }
  })
})

describe('measuring HTTPS', () => {
  let certificate: TestCertificate
  before(async () => {
    certificate = await makeCertificate()
  })

  it('times the TLS handshake separately from TCP and the wait for the server', async () => {
    const server = await startServer(answerWith({ 'cf-ray': '8c9a1b2c3d4e5f6a-FRA' }, { delayMs: 50 }), certificate)
    try {
      const record = await sample(server.url(), { ca: certificate.cert })
      assertValid(record)
      assert.equal(record.error, null)
      assert.equal(record.pop, 'fra')
      assert.ok(record.tls_ms !== null && record.tls_ms > 0, `tls_ms ${record.tls_ms}`)
      assert.ok(record.connect_ms !== null && record.connect_ms < 20)
      assert.ok(record.ttfb_ms !== null && record.ttfb_ms >= 50 && record.ttfb_ms < 50 + 200, `ttfb_ms ${record.ttfb_ms}`)
    } finally {
      await server.close()
    }
  })

  it('--resolve connects to the given address but keeps Host and SNI of the URL', async () => {
    const server = await startServer(answerWith({ 'x-amz-cf-pop': 'NRT57-P2' }), certificate)
    try {
      const record = await sample(`https://anycast.test:${server.port}/`, { resolve: '127.0.0.1', ca: certificate.cert })
      assert.equal(record.error, null)
      assert.equal(record.address, '127.0.0.1')
      assert.equal(record.dns_ms, null, 'no lookup when the address is given')
      assert.equal(record.pop, 'nrt')
      assert.deepEqual(server.requests[0], { host: `anycast.test:${server.port}`, servername: 'anycast.test', path: '/' })
    } finally {
      await server.close()
    }
  })

  it('every sample is a full handshake, as a first visit is, though samples share one TLS context', async () => {
    const resumed: boolean[] = []
    const server = await startServer((request, response) => {
      resumed.push((request.socket as TLSSocket).isSessionReused())
      answerWith({ 'cf-ray': '8c9a1b2c3d4e5f6a-FRA' })(request, response)
    }, certificate)
    try {
      for (let i = 0; i < 3; i++) assert.equal((await sample(server.url(), { ca: certificate.cert })).error, null)
      assert.deepEqual(resumed, [false, false, false], 'no sample resumed a TLS session')
    } finally {
      await server.close()
    }
  })

  it('an untrusted certificate is TLS_CERT, and -k measures anyway', async () => {
    const server = await startServer(answerWith({}), certificate)
    try {
      const refused = await sample(server.url())
      assertValid(refused)
      assert.equal(refused.error, 'TLS_CERT')
      assert.ok(refused.connect_ms !== null, 'TCP connected before TLS failed')
      assert.equal((await sample(server.url(), { insecure: true })).error, null)
    } finally {
      await server.close()
    }
  })
})

describe("checking the server's name", () => {
  it('a certificate the probe trusts, made out to another name, is TLS_CERT; -k measures anyway', async () => {
    const certificate = await makeCertificate(['anycast.test'])
    const server = await startServer(answerWith({ 'cf-ray': '8c9a1b2c3d4e5f6a-FRA' }), certificate)
    try {
      const elsewhere = `https://elsewhere.test:${server.port}/`
      const refused = await sample(elsewhere, { resolve: '127.0.0.1', ca: certificate.cert })
      assertValid(refused)
      assert.equal(refused.error, 'TLS_CERT')
      assert.ok(refused.connect_ms !== null, 'TCP connected before the name was refused')
      assert.equal(server.requests.length, 0, 'no request went to a server with the wrong name')
      assert.equal((await sample(elsewhere, { resolve: '127.0.0.1', insecure: true })).error, null)
      const named = await sample(`https://ANYCAST.test.:${server.port}/`, { resolve: '127.0.0.1', ca: certificate.cert })
      assert.equal(named.error, null, 'names compare without case and without the root dot')
      assert.equal(named.pop, 'fra')
      assert.equal((await sample(`https://127.0.0.1:${server.port}/`, { ca: certificate.cert })).error, null, 'an IP URL is checked against the IP names')
    } finally {
      await server.close()
    }
  })

  it("agrees with Node's own check on every name, wildcards and IPs included", async () => {
    const certificates = await Promise.all([makeCertificate(['*.edge.test', 'exact.test']), makeCertificate(['f*.partial.test']), makeCertificate(['*.test'])])
    const hostnames = ['ams.edge.test', 'AMS.Edge.Test', 'ams.edge.test.', 'a.b.edge.test', 'edge.test', 'exact.test', 'sub.exact.test', 'foo.partial.test', 'bar.partial.test', 'x.test', '127.0.0.1', '127.0.0.2', '::1', 'xn--bcher-kva.edge.test']
    for (const { cert } of certificates) {
      const x509 = new X509Certificate(cert)
      // The object Node would hand its check, with the fields that check reads.
      const peer = { subject: { CN: /CN=(.*)/.exec(x509.subject)?.[1] }, subjectaltname: x509.subjectAltName } as unknown as PeerCertificate
      for (const hostname of hostnames) {
        const node = checkServerIdentity(hostname, peer)
        const ours = checkServerName(hostname, x509)
        assert.equal(ours === undefined, node === undefined, `${hostname} against ${x509.subjectAltName}: Node says ${node?.message ?? 'valid'}, ours ${ours?.message ?? 'valid'}`)
        if (ours) assert.equal((ours as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID')
      }
    }
  })
})

describe('every failure is a record with a stable code', () => {
  it('ECONNREFUSED: nothing listens', async () => {
    const server = await startServer(answerWith({}))
    await server.close()
    const record = await sample(`http://127.0.0.1:${server.port}/`)
    assertValid(record)
    assert.equal(record.error, 'ECONNREFUSED')
    assert.equal(record.connect_ms, null)
    assert.equal(record.status, null)
  })

  it('ECONNRESET: the server resets the connection after the request', async () => {
    const server = await startRawServer((socket) => socket.once('data', () => socket.resetAndDestroy()))
    try {
      const record = await sample(`http://127.0.0.1:${server.port}/`)
      assertValid(record)
      assert.equal(record.error, 'ECONNRESET')
      assert.ok(record.connect_ms !== null)
    } finally {
      await server.close()
    }
  })

  it('ECONNRESET: the server closes before the body it announced is complete, and the PoP that answered is kept', async () => {
    const server = await startRawServer((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nFly-Request-Id: 01abc-ams\r\nContent-Length: 100\r\n\r\nonly ten b')),
    )
    try {
      const record = await sample(`http://127.0.0.1:${server.port}/`, { pop: popExtractor({ preset: 'fly' }) })
      assertValid(record)
      assert.equal(record.error, 'ECONNRESET')
      assert.equal(record.status, 200)
      assert.equal(record.pop, 'ams')
      assert.ok(record.ttfb_ms !== null)
      assert.equal(record.total_ms, null)
    } finally {
      await server.close()
    }
  })

  it('sends one GET with the URL\'s Host, asks to close, and reads a chunked body to its end', async () => {
    let requestHead = ''
    const server = await startRawServer((socket) =>
      socket.once('data', (chunk: Buffer) => {
        requestHead = chunk.toString()
        socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
      }),
    )
    try {
      const record = await sample(`http://127.0.0.1:${server.port}/path?q=1`)
      assertValid(record)
      assert.equal(record.error, null)
      assert.ok(record.total_ms !== null)
      const [requestLine, ...headerLines] = requestHead.split('\r\n')
      assert.equal(requestLine, 'GET /path?q=1 HTTP/1.1')
      const headers = new Map(headerLines.filter(Boolean).map((line) => [line.split(':')[0]!.toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
      assert.equal(headers.get('host'), `127.0.0.1:${server.port}`)
      assert.equal(headers.get('connection'), 'close')
      assert.match(headers.get('user-agent') ?? '', /^catchment-probe\//)
    } finally {
      await server.close()
    }
  })

  it('TIMEOUT: the server accepts and never answers, and the phases done are kept', async () => {
    const server = await startRawServer(() => {})
    try {
      const started = Date.now()
      const record = await sample(`http://127.0.0.1:${server.port}/`, { timeoutMs: 300 })
      assertValid(record)
      assert.equal(record.error, 'TIMEOUT')
      assert.ok(Date.now() - started < 2000, 'the deadline is kept')
      assert.ok(record.connect_ms !== null)
      assert.equal(record.ttfb_ms, null)
      assert.equal(record.total_ms, null)
    } finally {
      await server.close()
    }
  })

  it('TLS: the server does not speak TLS', async () => {
    const server = await startRawServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')))
    try {
      const record = await sample(`https://127.0.0.1:${server.port}/`)
      assertValid(record)
      assert.equal(record.error, 'TLS')
    } finally {
      await server.close()
    }
  })

  it('PROTOCOL: the answer is not HTTP', async () => {
    const server = await startRawServer((socket) => socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')))
    try {
      const record = await sample(`http://127.0.0.1:${server.port}/`)
      assertValid(record)
      assert.equal(record.error, 'PROTOCOL')
    } finally {
      await server.close()
    }
  })

  it('DNS: the name does not resolve', async () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' })
    const record = await sample('https://nowhere.invalid/', { lookup: () => Promise.reject(notFound) })
    assertValid(record)
    assert.equal(record.error, 'DNS')
    assert.equal(record.address, null)
  })

  it('-4 / -6 ask the resolver for that address family only', async () => {
    const server = await startServer(answerWith({}))
    try {
      const asked: number[] = []
      const lookup = async (_host: string, family: 0 | 4 | 6) => {
        asked.push(family)
        return '127.0.0.1'
      }
      for (const family of [0, 4, 6] as const) {
        const record = await sample(`http://anycast.test:${server.port}/`, { lookup, family })
        assert.equal(record.error, null)
        assert.ok(record.dns_ms !== null)
      }
      assert.deepEqual(asked, [0, 4, 6])
    } finally {
      await server.close()
    }
  })

  it('TIMEOUT: a lookup that hangs is cut off by the deadline too', async () => {
    const record = await sample('https://slow-dns.invalid/', { lookup: () => new Promise(() => {}), timeoutMs: 200 })
    assert.equal(record.error, 'TIMEOUT')
  })
})
