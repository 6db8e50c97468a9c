/**
 * Reads a request body with a hard cap, gunzipping when asked. The cap
 * applies to the decompressed bytes too, so a small gzip bomb cannot make the
 * collector hold gigabytes.
 */
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { createGunzip } from 'node:zlib'

export class BodyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413 | 415,
    readonly code: 'BODY_TOO_LARGE' | 'BAD_GZIP' | 'UNSUPPORTED_ENCODING',
  ) {
    super(message)
  }
}

async function collect(stream: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > maxBytes) {
      stream.destroy()
      throw new BodyError(`${what} is larger than ${maxBytes} bytes`, 413, 'BODY_TOO_LARGE')
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, size)
}

export async function readBody(request: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new BodyError(`content-encoding "${encoding}" is not supported (gzip or none)`, 415, 'UNSUPPORTED_ENCODING')
  }
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyError(`body of ${declared} bytes is larger than ${maxBytes} bytes`, 413, 'BODY_TOO_LARGE')
  }
  if (!request.body) return Buffer.alloc(0)
  const raw = Readable.fromWeb(request.body as WebReadableStream<Uint8Array>)
  if (encoding === 'identity') return collect(raw, maxBytes, 'body')

  const wire = await collect(raw, maxBytes, 'body')
  const gunzip = createGunzip()
  const inflated = collect(gunzip, maxBytes, 'decompressed body').catch((error: unknown) => {
    if (error instanceof BodyError) throw error
    throw new BodyError(`body is not valid gzip: ${(error as Error).message}`, 400, 'BAD_GZIP')
  })
  gunzip.end(wire)
  return inflated
}
