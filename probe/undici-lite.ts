/**
 * undici's Pool (the agent's connection to its collector) without the rest of undici. `import 'undici'`
 * loads fetch, WebSocket, caches and mocks too: 8 MB of resident memory a
 * fleet device would carry for nothing (measured: 61 → 53 MB for the bare
 * process). The package has no `exports` map, so these paths are reachable;
 * undici is pinned to 7.x, whose layout they match. Without index.js the
 * convenience methods (`request`, `stream`…) are not attached, so everything
 * here goes through `dispatch`, undici's documented low-level API.
 */
import type { Dispatcher, Pool as PoolType } from 'undici'
import PoolImpl from 'undici/lib/dispatcher/pool.js'

export const Pool = PoolImpl as unknown as typeof PoolType
export type Pool = PoolType

export interface BufferedResponse {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request through `dispatch`, the whole body buffered: for small API answers. */
export function requestBuffered(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    let statusCode = 0
    let headers: BufferedResponse['headers'] = {}
    const chunks: Buffer[] = []
    dispatcher.dispatch(options, {
      // undici tells new-style handlers from legacy ones by this method, so it must exist.
      onRequestStart() {},
      onResponseStart(_controller, status, responseHeaders) {
        statusCode = status
        headers = responseHeaders
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk)
      },
      onResponseEnd() {
        resolve({ statusCode, headers, body: Buffer.concat(chunks) })
      },
      onResponseError(_controller, error) {
        reject(error)
      },
    })
  })
}
