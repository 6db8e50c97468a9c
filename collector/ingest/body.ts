/**
 * Reads a request body with a hard cap, gunzipping when asked. The cap
 * applies to the decompressed bytes too, so a small gzip bomb cannot make the
 * collector hold gigabytes.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { promisify } from 'node:util'
import { gunzip, gunzipSync } from 'node:zlib'

const gunzipAsync = promisify(gunzip)

/**
 * Wire bodies up to this size are inflated on the event loop. A live agent's
 * batch (100 records, ~3 KB of gzip) inflates in ~40 µs of CPU there, against
 * ~95 µs handed to the thread pool and back; a spool's 5,000 records would
 * hold the loop for over a millisecond, so those still go to the pool.
 */
const inflateInPlaceBytes = 64 * 1024

/**
 * What a body inflated in place may grow to. Gzip packs a thousand to one,
 * so 64 KB may hold megabytes: past this the inflate starts again on the
 * pool, and a gzip bomb holds the loop for a few milliseconds at most.
 */
const inflateInPlaceOutputBytes = 2 * 1024 * 1024

export class BodyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413 | 415,
    readonly code: 'BODY_TOO_LARGE' | 'BAD_GZIP' | 'UNSUPPORTED_ENCODING',
  ) {
    super(message)
  }
}

/**
 * The stream's bytes, up to `maxBytes`. Past the cap it stops reading and
 * leaves the stream undestroyed: destroying Node's request would close the
 * socket before the 413 could be sent (@hono/node-server drains or closes
 * what is left after the response).
 */
function collect(stream: Readable, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = () => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      stream.off('close', onClose)
    }
    function onData(chunk: Buffer) {
      size += chunk.length
      if (size <= maxBytes) {
        chunks.push(chunk)
        return
      }
      stop()
      stream.pause()
      reject(new BodyError(`body is larger than ${maxBytes} bytes`, 413, 'BODY_TOO_LARGE'))
    }
    function onEnd() {
      stop()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    }
    function onError(error: Error) {
      stop()
      reject(error)
    }
    function onClose() {
      stop()
      reject(new Error('the client closed the connection before the body ended'))
    }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onError)
    stream.once('close', onClose)
  })
}

/**
 * The request's body, capped at `maxBytes` before and after inflating.
 * `incoming` is Node's own request, when the server has one (@hono/node-server
 * passes it as `c.env.incoming`): read from it directly, a batch skips the
 * web `Request` and its `ReadableStream`, which were a seventh of the main
 * thread's time at a live agent's batch size.
 */
export async function readBody(request: Request, maxBytes: number, incoming?: IncomingMessage): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new BodyError(`content-encoding "${encoding}" is not supported (gzip or none)`, 415, 'UNSUPPORTED_ENCODING')
  }
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyError(`body of ${declared} bytes is larger than ${maxBytes} bytes`, 413, 'BODY_TOO_LARGE')
  }
  let raw: Readable
  if (incoming) raw = incoming
  else if (request.body) raw = Readable.fromWeb(request.body as WebReadableStream<Uint8Array>)
  else return Buffer.alloc(0)
  if (encoding === 'identity') return collect(raw, maxBytes)

  const wire = await collect(raw, maxBytes)
  return inflate(wire, maxBytes)
}

/**
 * The output buffer to inflate a gzip body into: the size its trailer
 * declares (ISIZE, the last four bytes), and a little room, so that zlib
 * fills one buffer and returns a view of it. Its default, 16 KB pieces joined
 * at the end, allocated about twice a live batch's bytes, and every 32 MB of
 * new buffers costs a young-generation collection (see rows.ts). The trailer
 * is only a guess, from the sender: it is held to `limit`, and a body that
 * inflates past it still ends in more pieces, as before.
 */
function inflateChunkBytes(wire: Buffer, limit: number): number {
  const declared = wire.length >= 18 ? wire.readUInt32LE(wire.length - 4) : 0
  return Math.min(Math.max(declared + 64, 1024), limit + 64)
}

/** zlib's error when an inflate passes its `maxOutputLength`. */
const outgrewLimit = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'

/**
 * One inflate, stopped at `maxBytes` (zlib's own limit, which ends the
 * inflate as soon as it is passed): in place for a small body, on the thread
 * pool for a large one (see inflateInPlaceBytes).
 */
async function gunzipWithin(wire: Buffer, maxBytes: number): Promise<Buffer> {
  const inPlaceLimit = Math.min(maxBytes, inflateInPlaceOutputBytes)
  if (wire.length <= inflateInPlaceBytes) {
    try {
      return gunzipSync(wire, { maxOutputLength: inPlaceLimit, chunkSize: inflateChunkBytes(wire, inPlaceLimit) })
    } catch (error) {
      // Past the in-place limit but maybe within the cap: inflated again below, off the event loop.
      if (!outgrewLimit(error) || inPlaceLimit === maxBytes) throw error
    }
  }
  return gunzipAsync(wire, { maxOutputLength: maxBytes })
}

async function inflate(wire: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return await gunzipWithin(wire, maxBytes)
  } catch (error) {
    if (outgrewLimit(error)) throw new BodyError(`decompressed body is larger than ${maxBytes} bytes`, 413, 'BODY_TOO_LARGE')
    throw new BodyError(`body is not valid gzip: ${(error as Error).message}`, 400, 'BAD_GZIP')
  }
}
