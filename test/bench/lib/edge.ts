/**
 * A stand-in anycast edge for benchmarks, run as its own process so its CPU
 * is not charged to what is measured: answers every request with a PoP
 * header, over HTTP or (with a certificate) HTTPS. Prints its port.
 */
import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'

const [keyFile, certFile] = process.argv.slice(2)
const handler: http.RequestListener = (_request, response) => {
  response.writeHead(200, { 'fly-request-id': '01h2abcxyz9876-ams', 'content-type': 'text/plain' })
  response.end('ok\n')
}
const server = keyFile && certFile ? https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handler) : http.createServer(handler)
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as import('node:net').AddressInfo).port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
