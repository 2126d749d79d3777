import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from 'undici'

/** Options of {@link request}. */
export interface RequestOptions {
  /** Default `'GET'`. */
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Buffer | Uint8Array
  /** Headers and body timeout in milliseconds. Default 10000. */
  timeoutMs?: number
}

/** What came back, as sent on the wire: the body is NOT decompressed. */
export interface HttpResponse {
  status: number
  /** Lower-case header names; repeated headers (`set-cookie`) as arrays. */
  headers: Record<string, string | string[]>
  body: Buffer
  /** The body decoded as UTF-8. */
  text: string
  /** The body parsed as JSON. */
  json<T = unknown>(): T
}

/**
 * One real HTTP/1.1 request over its own connection, closed before this resolves, so no
 * socket outlives the call (nothing keeps the test process alive, nothing races a closing
 * app). Use it where `inject` would hide what a client sees: compression, framing,
 * `Vary`, timing.
 *
 * @example
 * const res = await request(`${base}/products`, { headers: { 'accept-encoding': 'br' } })
 * assert.equal(res.headers['content-encoding'], 'br')
 */
export async function request(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url)
  const timeoutMs = opts.timeoutMs ?? 10_000
  const client = new Client(target.origin, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  try {
    const res = await client.request({
      path: `${target.pathname}${target.search}`,
      method: (opts.method ?? 'GET') as 'GET',
      headers: opts.headers,
      body: opts.body,
    })
    const body = Buffer.from(await res.body.arrayBuffer())
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = value
    const text = body.toString('utf8')
    return { status: res.statusCode, headers, body, text, json: <T>() => JSON.parse(text) as T }
  } finally {
    await client.destroy()
  }
}

/** Options of {@link load}. Give `durationMs` or `requests` (or both: whichever ends first). */
export interface LoadOptions {
  url: string
  /** Concurrent keep-alive connections, one request in flight on each. Default 4. */
  connections?: number
  /** Stop starting new requests after this many milliseconds. */
  durationMs?: number
  /** Stop after this many requests in total. */
  requests?: number
  /**
   * Target rate in requests per second over all connections: each connection starts a request at
   * most every `connections / rate` seconds (a steady, paced load, as production traffic is).
   * Default: no pacing, each connection sends its next request as soon as the previous one ended
   * (a saturating load).
   */
  rate?: number
  /** Default `'GET'`. */
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Buffer
  /** Per-request timeout (headers and body) in milliseconds; a timeout counts as failed. Default 10000. */
  timeoutMs?: number
  /** Which statuses count as failed. Default: anything outside 200-399. */
  isFailure?: (status: number) => boolean
}

/** Outcome of {@link load}. */
export interface LoadResult {
  /** Requests completed or failed. */
  total: number
  /** Transport errors plus responses `isFailure` rejected. */
  failed: number
  /** Why requests failed (`'status 503'`, `'ECONNRESET ...'`), at most 100 kept. */
  errors: string[]
  /** Count per response status. */
  statuses: Record<number, number>
  /** Slowest request, in milliseconds, failed ones included. */
  maxLatencyMs: number
  /** Every request's latency in milliseconds, in completion order. */
  latencies: number[]
  /** When each request started (`performance.now()`, ms), in the same order as `latencies`. */
  startedAt: number[]
  /** Wall time of the whole run in milliseconds. */
  durationMs: number
}

const MAX_ERRORS_KEPT = 100

/**
 * Steady, bounded load against one URL, recording every request: for outage tests such
 * as "kill Redis under load: zero failed requests, none slower than 200 ms".
 *
 * @example
 * const running = load({ url: `${base}/products`, connections: 8, durationMs: 3000 })
 * await sleep(500); await redis.kill(); await sleep(1000); await redis.restart()
 * const result = await running
 * assert.equal(result.failed, 0, result.errors.join('\n'))
 * assert.ok(result.maxLatencyMs < 200)
 */
export async function load(opts: LoadOptions): Promise<LoadResult> {
  if (opts.durationMs === undefined && opts.requests === undefined) {
    throw new TypeError('load() needs durationMs or requests, so that it ends')
  }
  const target = new URL(opts.url)
  const path = `${target.pathname}${target.search}`
  const connections = opts.connections ?? 4
  const timeoutMs = opts.timeoutMs ?? 10_000
  const isFailure = opts.isFailure ?? ((status: number) => status < 200 || status >= 400)
  if (opts.rate !== undefined && !(opts.rate > 0)) throw new TypeError('load() rate must be > 0')
  // Per connection: the time between the starts of two requests, in ms.
  const intervalMs = opts.rate === undefined ? 0 : (1000 * connections) / opts.rate
  const started = performance.now()
  const deadline = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : started + opts.durationMs
  const limit = opts.requests ?? Number.POSITIVE_INFINITY
  const result: LoadResult = {
    total: 0,
    failed: 0,
    errors: [],
    statuses: {},
    maxLatencyMs: 0,
    latencies: [],
    startedAt: [],
    durationMs: 0,
  }
  let issued = 0
  const fail = (reason: string): void => {
    result.failed++
    if (result.errors.length < MAX_ERRORS_KEPT) result.errors.push(reason)
  }

  const worker = async (client: Client, index: number): Promise<void> => {
    // Paced connections start spread over one interval, not all at once.
    let nextStart = performance.now() + (intervalMs * index) / connections
    while (issued < limit && performance.now() < deadline) {
      if (intervalMs > 0) {
        const wait = nextStart - performance.now()
        if (wait > 0) await sleep(wait)
        if (issued >= limit || performance.now() >= deadline) break
        // On schedule, so timer lateness does not add up; but after a stall of more than one
        // interval the schedule restarts from now rather than sending a burst to catch up.
        const now = performance.now()
        nextStart = now - nextStart > intervalMs ? now + intervalMs : nextStart + intervalMs
      }
      issued++
      const t0 = performance.now()
      try {
        const res = await client.request({
          path,
          method: (opts.method ?? 'GET') as 'GET',
          headers: opts.headers,
          body: opts.body,
        })
        // Read the whole body: a response counts when the client has all of it.
        await res.body.dump({ limit: Number.POSITIVE_INFINITY })
        result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1
        if (isFailure(res.statusCode)) fail(`status ${res.statusCode}`)
      } catch (err) {
        const e = err as Error & { code?: string }
        fail(`${e.code ?? e.name} ${e.message}`)
      }
      const latency = performance.now() - t0
      result.total++
      result.latencies.push(latency)
      result.startedAt.push(t0)
      if (latency > result.maxLatencyMs) result.maxLatencyMs = latency
    }
  }

  const clients = Array.from(
    { length: connections },
    () => new Client(target.origin, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, pipelining: 1 }),
  )
  try {
    await Promise.all(clients.map((client, index) => worker(client, index)))
  } finally {
    await Promise.all(clients.map((client) => client.destroy()))
  }
  result.durationMs = performance.now() - started
  return result
}

/** The `p`-th percentile (0-100) of `values` by nearest rank, or 0 for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}
