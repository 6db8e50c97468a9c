/**
 * The agent's one connection pool to its collector: measurement batches,
 * heartbeats and schedule fetches share it (and its keep-alive connection),
 * and the bearer token and user agent are set in one place.
 */
import { Pool, requestBuffered } from '../undici-lite.ts'
import { userAgent } from '../version.ts'

export interface CollectorResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

export class CollectorClient {
  private readonly pool: Pool

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.pool = new Pool(new URL(baseUrl).origin, { connections: 2, keepAliveTimeout: 30_000 })
  }

  async send(method: 'GET' | 'POST', path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<CollectorResponse> {
    const response = await requestBuffered(this.pool, {
      path,
      method,
      headers: { authorization: `Bearer ${this.token}`, 'user-agent': userAgent, ...headers },
      body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    })
    return { status: response.statusCode, headers: response.headers, text: response.body.toString('utf8') }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {})
  }
}
