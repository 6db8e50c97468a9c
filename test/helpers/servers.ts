/**
 * Real servers on loopback for the probe to measure: plain HTTP, HTTPS with a
 * certificate made for the test, and a front that alternates connections
 * between two back ends the way an ECMP or anycast split would.
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import selfsigned from 'selfsigned'

export interface SeenRequest {
  host: string | undefined
  /** SNI the client sent (HTTPS only). */
  servername: string | undefined
  path: string | undefined
}

export interface TestServer {
  port: number
  url(path?: string): string
  requests: SeenRequest[]
  close(): Promise<void>
}

export type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void

export interface TestCertificate {
  key: string
  cert: string
}

/** A self-signed certificate for the names the tests connect with. */
export async function makeCertificate(names: string[] = ['localhost', 'anycast.test']): Promise<TestCertificate> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...names.map((value) => ({ type: 2 as const, value })), { type: 7 as const, ip: '127.0.0.1' }],
      },
    ],
  })
  return { key: pems.private, cert: pems.cert }
}

function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port))
  })
}

function closer(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>()
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
}

/** An HTTP server, or HTTPS when given a certificate, on 127.0.0.1. */
export async function startServer(handler: Handler, tls?: TestCertificate): Promise<TestServer> {
  const requests: SeenRequest[] = []
  const record: Handler = (request, response) => {
    requests.push({
      host: request.headers.host,
      servername: (request.socket as TLSSocket).servername || undefined,
      path: request.url,
    })
    handler(request, response)
  }
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, record) : http.createServer(record)
  const close = closer(server)
  const port = await listen(server)
  const scheme = tls ? 'https' : 'http'
  return { port, url: (path = '/') => `${scheme}://localhost:${port}${path}`, requests, close }
}

/** A handler that answers like a provider's edge: the given header, then a small body. */
export function answerWith(headers: Record<string, string>, options: { delayMs?: number; status?: number; body?: string } = {}): Handler {
  return (_request, response) => {
    setTimeout(() => {
      response.writeHead(options.status ?? 200, headers)
      response.end(options.body ?? 'ok\n')
    }, options.delayMs ?? 0)
  }
}

/**
 * A TCP front that hands each new connection to the next back end in turn:
 * one address, two PoPs answering, as when a catchment is split.
 */
export async function startAlternatingFront(backendPorts: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0
  const server = net.createServer((client) => {
    const port = backendPorts[next++ % backendPorts.length] as number
    const upstream = net.connect({ host: '127.0.0.1', port })
    client.pipe(upstream).pipe(client)
    const destroy = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', destroy)
    upstream.on('error', destroy)
    client.on('close', destroy)
    upstream.on('close', destroy)
  })
  const close = closer(server)
  const port = await listen(server)
  return { port, close }
}

/** A raw TCP server whose connection handler does something a web server should not. */
export async function startRawServer(onConnection: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer(onConnection)
  const close = closer(server)
  const port = await listen(server)
  return { port, close }
}
