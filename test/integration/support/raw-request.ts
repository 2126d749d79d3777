import http from 'node:http'
import type { HttpResponse } from '@fastify-perf/test-helpers'

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  /** @default 'GET' */
  method?: string
  headers?: Record<string, string | string[]>
  /** Sent as is; `content-length` is added unless `transfer-encoding` is set. */
  body?: string
  /** @default 10000 */
  timeoutMs?: number
}

/**
 * One HTTP/1.1 request through `node:http` with `path` written on the wire exactly as given:
 * unlike a WHATWG-URL client, nothing resolves `%2E%2E` segments or rewrites the path, a
 * `Host` header can be chosen, and a GET can carry a body (fat GET). The connection is not
 * reused (`agent: false`), so nothing outlives the call.
 */
export function rawRequest(base: string, path: string, opts: RawRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(base)
  const headers: Record<string, string | string[]> = { ...opts.headers }
  const hasTransferEncoding = Object.keys(headers).some((name) => name.toLowerCase() === 'transfer-encoding')
  if (opts.body !== undefined && !hasTransferEncoding) {
    headers['content-length'] = String(Buffer.byteLength(opts.body))
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: opts.method ?? 'GET',
        path,
        headers,
        agent: false,
        // Node validates `path` for control characters only; everything else goes as written.
        timeout: opts.timeoutMs ?? 10_000,
        // Responses may carry CDN tag headers up to the providers' 16 KB: above Node's default
        // 16 KB for all headers together.
        maxHeaderSize: 64 * 1024,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          const text = body.toString('utf8')
          const out: Record<string, string | string[]> = {}
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out[name] = value
          resolve({
            status: res.statusCode ?? 0,
            headers: out,
            body,
            text,
            json: <T>() => JSON.parse(text) as T,
          })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`raw request ${path} timed out`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}
