/**
 * Opens a sample's socket itself, so it can clock the TCP and TLS handshakes
 * separately and connect to a chosen address while the request keeps the
 * URL's Host header (and we keep its SNI).
 */
import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { performance } from 'node:perf_hooks'

export interface HandshakeTimes {
  /** performance.now() when the TCP SYN left. */
  connectStartAt: number | null
  /** When the SYN/ACK came back: connect duration is one network round trip. */
  connectedAt: number | null
  /** When the TLS handshake completed (null for plain HTTP). */
  secureAt: number | null
  /** When the first response byte was readable on the socket. */
  firstByteAt: number | null
}

export interface ConnectorOptions {
  /** The IP to connect to, already resolved (or given by --resolve). */
  address: string
  port: number
  /** TLS on top of the TCP connection (an https: URL). */
  secure: boolean
  /** SNI and certificate name: the URL's host, unless that is an IP literal. */
  servername: string | undefined
  insecure: boolean
  ca: string | Buffer | undefined
  /** Filled in as the handshakes happen, so a failed sample keeps the phases it finished. */
  times: HandshakeTimes
  /** Every socket we open, so the sample's deadline can destroy it whatever the HTTP client is doing. */
  sockets: Set<net.Socket>
}

/** Widest window around the SYN whose midpoint is trusted as its send time. */
const maxSynWindowMs = 1

export function newHandshakeTimes(): HandshakeTimes {
  return { connectStartAt: null, connectedAt: null, secureAt: null, firstByteAt: null }
}

/**
 * Marks the first response byte as it arrives, before the HTTP parser sees it: a listener put
 * ahead of the client's own. ('data', not 'readable': a 'readable' listener would stop the
 * socket's flow, which the HTTP client reads.)
 */
function watchFirstByte(socket: net.Socket, times: HandshakeTimes): void {
  socket.prependOnceListener('data', () => {
    times.firstByteAt ??= performance.now()
  })
}

/**
 * One TLS context per CA bundle, shared by every sample that trusts it. Node
 * builds a fresh OpenSSL context for each `tls.connect` that is not handed one
 * (its store, ciphers and options set up anew): 5–20 % of a handshake's CPU on
 * this machine, paid every few hundred milliseconds by an agent with HTTPS
 * targets. Sharing the context shares no sessions: the probe offers none, so
 * every sample is still a full handshake, as a first visit is.
 */
const secureContexts = new Map<string | Buffer | undefined, tls.SecureContext>()

export function sharedSecureContext(ca: string | Buffer | undefined): tls.SecureContext {
  let context = secureContexts.get(ca)
  if (!context) {
    context = tls.createSecureContext(ca === undefined ? {} : { ca })
    secureContexts.set(ca, context)
  }
  return context
}

/**
 * Checks the server's name the way `tls.checkServerIdentity` does (the subject's
 * alternative names, the common name only when there are no DNS names, a wildcard
 * for one label, an IP only against IP names), but through OpenSSL on the
 * certificate as it arrived. Node hands the check `getPeerCertificate(true)`: the
 * whole chain turned into objects, with three fingerprints each and the public key
 * decoded again, a quarter of a handshake's CPU (about 0.3 of 1.2 ms here, paid on
 * every sample of an HTTPS target). `certificate` is whatever Node handed over:
 * the X509 form `openTimedSocket` arranges, or Node's own object if a Node release
 * stops asking the socket for it, which then gets Node's own check.
 */
export function checkServerName(hostname: string, certificate: X509Certificate | tls.PeerCertificate): Error | undefined {
  if (!(certificate instanceof X509Certificate)) return tls.checkServerIdentity(hostname, certificate)
  const name = hostname.replace(/\.$/, '')
  const matched = net.isIP(name) ? certificate.checkIP(name) : certificate.checkHost(name, { subject: 'default' })
  if (matched !== undefined) return undefined
  const reason = `${name} is not in the certificate's names: ${certificate.subjectAltName ?? certificate.subject}`
  return Object.assign(new Error(`Hostname/IP does not match certificate's altnames: ${reason}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason, host: name })
}

/**
 * Makes Node's name check, which asks the socket for `getPeerCertificate(true)`,
 * get the certificate in its X509 form for `checkServerName`. The socket's own
 * method is shadowed for its handshake only: the returned function takes it back.
 */
function peerCertificateForNameCheck(socket: tls.TLSSocket): () => void {
  Object.defineProperty(socket, 'getPeerCertificate', { configurable: true, value: () => socket.getPeerX509Certificate() })
  return () => {
    delete (socket as Partial<tls.TLSSocket>).getPeerCertificate
  }
}

export type SocketCallback = (error: Error | null, socket?: net.Socket) => void

/** Connects (and for https, handshakes), filling in `times` as it goes; calls back once. */
export function openTimedSocket(options: ConnectorOptions, callback: SocketCallback): void {
  const { address, port, secure, servername, insecure, ca, times, sockets } = options
  let settled = false
  const settle = (error: Error | null, socket?: net.Socket) => {
    if (settled) return
    settled = true
    callback(error, socket)
  }

  const beforeConnect = performance.now()
  times.connectStartAt = beforeConnect
  const tcp = net.connect({ host: address, port, noDelay: true })
  // For an IP, Node issues connect(2) (the SYN) in a nextTick queued by net.connect, so
  // the SYN left between `beforeConnect` and a nextTick queued now. When that window is
  // narrow (≤ 1 ms) its midpoint is the send time, ±0.5 ms at worst. When it is wide (the
  // process preempted under load) the earlier mark is kept: the RTT then reads high,
  // never low, and the minimum RTT the analysis relies on stays an upper bound.
  process.nextTick(() => {
    const afterSyn = performance.now()
    if (times.connectedAt === null && afterSyn - beforeConnect <= maxSynWindowMs) {
      times.connectStartAt = (beforeConnect + afterSyn) / 2
    }
  })
  sockets.add(tcp)
  tcp.once('error', (error) => settle(error))
  tcp.once('connect', () => {
    times.connectedAt = performance.now()
    if (!secure) {
      watchFirstByte(tcp, times)
      settle(null, tcp)
      return
    }
    const tlsSocket = tls.connect({
      socket: tcp,
      servername,
      // The certificate is checked against the URL's host, or the IP for an IP URL.
      host: servername ?? address,
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: !insecure,
      secureContext: sharedSecureContext(ca),
      checkServerIdentity: checkServerName,
    })
    const handshakeDone = peerCertificateForNameCheck(tlsSocket)
    sockets.add(tlsSocket)
    tlsSocket.once('error', (error) => settle(error))
    tlsSocket.once('secureConnect', () => {
      times.secureAt = performance.now()
      handshakeDone()
      watchFirstByte(tlsSocket, times)
      settle(null, tlsSocket)
    })
  })
}
