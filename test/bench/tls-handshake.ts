/**
 * What one sample's connection costs the probe in CPU: a TCP connect (an http:
 * sample), a full TLS handshake as the probe makes it (an https: sample), and a
 * TLS handshake that resumes the previous one's session (what a probe could do
 * instead). The agent's CPU target (≤ 2 % of a core) is a budget of 20 ms a
 * second; this says how many of each fit in it. The edge runs in its own
 * process, so only the client's side is counted.
 *
 *   node --import tsx test/bench/tls-handshake.ts [--handshakes 2000] [--warmup 300]
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { parseArgs } from 'node:util'
import { checkServerName, newHandshakeTimes, openTimedSocket, sharedSecureContext } from '../../probe/measure/connector.ts'
import { makeCertificate } from '../helpers/servers.ts'
import { machine } from './lib/proc.ts'
import { startEdge } from './lib/start-edge.ts'

const { values } = parseArgs({
  options: {
    handshakes: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '300' },
  },
})
const handshakes = Number(values.handshakes)
const warmup = Number(values.warmup)

/** One sample's connection through the probe's own connector, closed once it is ready. */
function probeConnection(port: number, secure: boolean, ca: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    openTimedSocket(
      { address: '127.0.0.1', port, secure, servername: 'localhost', insecure: false, ca, times: newHandshakeTimes(), sockets },
      (error, socket) => {
        if (error) return reject(error)
        socket?.destroy()
        resolve()
      },
    )
  })
}

/**
 * A handshake offering `session`, with the probe's context and name check. Resolves with the
 * session the server handed out, the first time it is asked for one.
 */
function resumingConnection(port: number, ca: string, session: Buffer | undefined): Promise<{ reused: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    const tcp = net.connect({ host: '127.0.0.1', port, noDelay: true })
    tcp.once('error', reject)
    tcp.once('connect', () => {
      const socket = tls.connect({ socket: tcp, servername: 'localhost', host: 'localhost', ALPNProtocols: ['http/1.1'], secureContext: sharedSecureContext(ca), checkServerIdentity: checkServerName, ...(session ? { session } : {}) })
      socket.once('error', reject)
      if (!session) {
        // TLS 1.3 hands the ticket over after the handshake.
        socket.once('session', (ticket: Buffer) => {
          socket.destroy()
          resolve({ reused: false, session: ticket })
        })
        return
      }
      socket.once('secureConnect', () => {
        const reused = socket.isSessionReused()
        socket.destroy()
        resolve({ reused })
      })
    })
  })
}

interface Figure {
  what: string
  cpuMicros: number
  userMicros: number
  wallMicros: number
}

async function measure(what: string, connection: () => Promise<unknown>): Promise<Figure> {
  for (let i = 0; i < warmup; i++) await connection()
  const before = process.cpuUsage()
  const startedAt = performance.now()
  for (let i = 0; i < handshakes; i++) await connection()
  const used = process.cpuUsage(before)
  return { what, cpuMicros: (used.user + used.system) / handshakes, userMicros: used.user / handshakes, wallMicros: ((performance.now() - startedAt) * 1000) / handshakes }
}

const dir = mkdtempSync(path.join(tmpdir(), 'catchment-bench-tls-'))
const edges: ChildProcess[] = []
try {
  const certificate = await makeCertificate(['localhost'])
  writeFileSync(path.join(dir, 'key.pem'), certificate.key)
  writeFileSync(path.join(dir, 'cert.pem'), certificate.cert)
  const plain = await startEdge()
  const secure = await startEdge({ key: path.join(dir, 'key.pem'), cert: path.join(dir, 'cert.pem') })
  edges.push(plain.child, secure.child)

  const { session } = await resumingConnection(secure.port, certificate.cert, undefined)
  let resumed = 0
  const figures = [
    await measure('TCP connect (an http: sample)', () => probeConnection(plain.port, false, certificate.cert)),
    await measure('full TLS handshake (an https: sample, as the probe makes it)', () => probeConnection(secure.port, true, certificate.cert)),
    await measure('TLS handshake resuming a session', async () => {
      if ((await resumingConnection(secure.port, certificate.cert, session)).reused) resumed++
    }),
  ]

  console.log(`connection CPU — ${machine()}; ${handshakes} of each after ${warmup} to warm up, the client's side only`)
  for (const figure of figures) {
    // The agent's target is 2 % of a core: 20 ms of CPU a second.
    const perSecond = 20_000 / figure.cpuMicros
    console.log(
      `  ${figure.what.padEnd(62)} ${figure.cpuMicros.toFixed(0).padStart(5)} µs CPU (${figure.userMicros.toFixed(0)} user), ${figure.wallMicros.toFixed(0)} µs wall; ${perSecond.toFixed(0)}/s fill 2 % of a core`,
    )
  }
  console.log(`  resumed: ${resumed} of ${handshakes + warmup} offered sessions`)
} finally {
  for (const edge of edges) edge.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
