/**
 * A PoP's web server, run inside the PoP's namespace on the anycast address:
 * answers every request with the provider's PoP header for its code, and
 * keeps a count of the requests it served (the lab's ground truth for how
 * many measurements the fleet made) in a file.
 */
import http from 'node:http'
import { writeFileSync } from 'node:fs'

const [address, code, style, countFile] = process.argv.slice(2) as [string, string, string, string]

function popHeader(): Record<string, string> {
  const id = Math.random().toString(16).slice(2, 14)
  switch (style) {
    case 'cloudflare':
      return { 'cf-ray': `${id}-${code.toUpperCase()}` }
    case 'fastly':
      return { 'x-served-by': `cache-${code}1001-${code.toUpperCase()}` }
    case 'cloudfront':
      return { 'x-amz-cf-pop': `${code.toUpperCase()}50-P1` }
    default:
      return { 'fly-request-id': `${id}-${code}` }
  }
}

let served = 0
const save = () => writeFileSync(countFile, String(served))
const server = http.createServer((_request, response) => {
  served++
  response.writeHead(200, { ...popHeader(), 'content-type': 'text/plain' })
  response.end(`${code}\n`)
})
server.keepAliveTimeout = 1000
server.listen(80, address, () => process.stdout.write('ready\n'))
setInterval(save, 500).unref()
process.on('SIGTERM', () => {
  save()
  process.exit(0)
})
