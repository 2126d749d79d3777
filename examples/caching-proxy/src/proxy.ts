// A caching reverse proxy: @fastify/reply-from forwards every method and path to one origin,
// and the route cache of @fastify-perf/cache in proxy mode acts as an RFC 9111 shared cache
// for the origin's responses. See ../README.md.
import { type IncomingHttpHeaders, METHODS, type ServerResponse } from 'node:http'
import replyFrom from '@fastify/reply-from'
import {
  type CacheStore,
  type Duration,
  fastifyPerfCache,
  type RouteCacheOptions,
  type Size,
} from '@fastify-perf/cache'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import { type InterimSink, kInterimSink, upstreamDispatcher } from './upstream.js'

/**
 * The route cache options a proxy may set: `routes` of `@fastify-perf/cache` without `proxy`
 * (always on here) and without the default `ttl`, `staleWhileRevalidate` and `staleIfError`: a
 * shared cache takes freshness from the origin's headers and invents none (RFC 9111 §4.2).
 */
export type ProxyCacheOptions = Omit<
  RouteCacheOptions,
  'proxy' | 'ttl' | 'staleWhileRevalidate' | 'staleIfError'
>

/** Options of {@link buildProxy}. */
export interface CachingProxyOptions {
  /** The origin, `http://host:port` (or `https://`). Paths and queries are appended as received. */
  upstream: string
  /** Where responses are stored. @default a memory store bounded by `maxSize` */
  store?: CacheStore
  /** Bound of the default memory store. Ignored with `store`. @default '64MB' */
  maxSize?: Size
  /** Route cache options (RFC 9111 shared-cache mode is always on). */
  cache?: ProxyCacheOptions
  /**
   * Deadline of each store operation (the engine's `storeTimeout`): past it, a lookup is a miss and a
   * write is dropped, so a slow store never slows the proxy down for long. A lookup takes up to three
   * reads, so it must be above three round trips to the store. The proxy's default is above the
   * engine's 50 ms: a miss here costs a trip to the origin, and a shared Redis or Memcached in another
   * zone (10-20 ms away) would otherwise time out every lookup (measured: Redis 20 ms away passes 22
   * of the 160 required cache-tests with 50 ms, 159 with this default). @default '250ms'
   */
  storeTimeout?: Duration
  /** Fastify's logger option. @default false */
  logger?: FastifyServerOptions['logger']
  /** Deadline for the origin's response headers and body, in ms. @default 30000 */
  upstreamTimeout?: number
  /** The pseudonym this proxy adds to `Via` (RFC 9110 §7.6.3); `false` adds none. @default 'fastify-perf-proxy' */
  via?: string | false
}

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection, so a proxy removes them,
 * and every field the `Connection` header names, before forwarding a message either way.
 * undici also refuses most of them in a request, which would turn a client's stray
 * `Keep-Alive` into a 500.
 */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

/**
 * Forwarding fields a client could forge. The proxy writes its own from the connection, so an
 * origin that builds links from `X-Forwarded-Host` cannot be steered by a client into a
 * response the cache would then store under the real host's key (unkeyed-header poisoning,
 * PortSwigger "Practical Web Cache Poisoning", 2018).
 */
const FORWARDING = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
]

type Headers = IncomingHttpHeaders

/** What the header rewriting reads from a request. */
interface ForwardedRequest {
  method: string
  ip: string
  protocol: string
  headers: IncomingHttpHeaders
}

function removeHopByHop(headers: Headers): void {
  const connection = headers.connection
  if (connection !== undefined) {
    for (const name of String(connection).split(',')) delete headers[name.trim().toLowerCase()]
  }
  for (const name of HOP_BY_HOP) delete headers[name]
}

function appendVia(headers: Headers, via: string | false): void {
  if (via === false) return
  const existing = headers.via
  headers.via = existing === undefined ? `1.1 ${via}` : `${String(existing)}, 1.1 ${via}`
}

/**
 * Forwards an interim response of the origin to the client (RFC 9110 §15.2: a proxy forwards
 * 1xx responses unless it asked for them itself): 102 Processing, and 103 Early Hints with its
 * fields, hop-by-hop ones removed. Other 1xx codes have no response API in Node and are dropped
 * (100 Continue is undici's own business). Never after the final head; never stored (they do not
 * go through the route cache's capture).
 */
function forwardInterim(res: ServerResponse, status: number, headers: IncomingHttpHeaders): void {
  if (res.headersSent || res.writableEnded) return
  if (status === 102) {
    if (typeof res.writeProcessing === 'function') res.writeProcessing()
  } else if (status === 103 && typeof res.writeEarlyHints === 'function') {
    const hints: Headers = { ...headers }
    removeHopByHop(hints)
    // Node writes a 103 only with a Link field (what Early Hints are for).
    if (hints.link !== undefined) res.writeEarlyHints(hints as Record<string, string | string[]>)
  }
}

/**
 * The origin could not be reached or did not answer: connection refused or closed before a
 * response, reset, timed out. The proxy answers as a gateway (RFC 9110 §15.6.3, §15.6.5): 504
 * for a timeout, 502 otherwise; and tells the route cache it is disconnected (RFC 9111 §4.2.4),
 * so a stored response stands in, stale, unless its Cache-Control forbids it (`must-revalidate`,
 * `proxy-revalidate`, `s-maxage`, `no-cache`).
 */
function originFailed(reply: FastifyReply, error: Error & { statusCode?: number }): void {
  reply.cache.originUnreachable()
  const status = error.statusCode === 504 ? 504 : 502
  reply
    .code(status)
    .type('text/plain; charset=utf-8')
    .send(status === 504 ? 'Gateway Timeout' : 'Bad Gateway')
}

/**
 * Builds the proxy: every method Node's parser knows (CONNECT aside) and every path are
 * forwarded to `upstream`; GET and HEAD responses are cached per RFC 9111 as a shared cache.
 * The instance is not listening; `await app.listen(...)` it, `await app.close()` it.
 *
 * @example
 * const app = await buildProxy({ upstream: 'http://127.0.0.1:3000' })
 * await app.listen({ port: 8080 })
 */
export async function buildProxy(options: CachingProxyOptions): Promise<FastifyInstance> {
  const upstream = new URL(options.upstream)
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new TypeError(`upstream must be an http:// or https:// URL, got ${options.upstream}`)
  }
  const via = options.via ?? 'fastify-perf-proxy'
  const timeout = options.upstreamTimeout ?? 30_000

  const app = Fastify({
    logger: options.logger ?? false,
    // The key uses the Host header as received; X-Forwarded-* from clients is never trusted.
    trustProxy: false,
  })

  // Methods such as PURGE, M-SEARCH or QUERY are forwarded too (RFC 9111 §4.4 invalidates the
  // URL after any successful unsafe method, including ones a cache does not know).
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) {
      app.addHttpMethod(method, { hasBody: true })
    }
  }

  await app.register(fastifyPerfCache, {
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
    storeTimeout: options.storeTimeout ?? '250ms',
    routes: { ...options.cache, proxy: true },
  })

  await app.register(replyFrom, {
    base: upstream.origin,
    // Our own Agent (upstream.ts): interim responses reach the client, a 304 with Content-Length
    // is not an error. reply-from uses it as given and destroys it when the app closes.
    undici: upstreamDispatcher({
      headersTimeout: timeout,
      bodyTimeout: timeout,
      // Certificate checks stay on for an https upstream (reply-from before 12.7.0 turned them
      // off by default in the options it builds, CVE-2026-107318; this Agent is built here).
      connect: { rejectUnauthorized: true },
    }),
  })

  // Bodies are streamed to the origin as received, whatever their type: no parsing, no limit
  // beyond the origin's own.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))

  const rewriteRequestHeaders = (request: ForwardedRequest, headers: Headers): Headers => {
    const out: Headers = { ...headers }
    removeHopByHop(out)
    // reply-from never forwards a GET or HEAD body; its framing headers must not go either
    // (a Content-Length without content desynchronises the upstream connection).
    if (request.method === 'GET' || request.method === 'HEAD') delete out['content-length']
    for (const name of FORWARDING) delete out[name]
    out['x-forwarded-for'] = request.ip
    if (request.headers.host !== undefined) out['x-forwarded-host'] = request.headers.host
    out['x-forwarded-proto'] = request.protocol
    appendVia(out, via)
    return out
  }
  const rewriteHeaders = (headers: Headers): Headers => {
    const out: Headers = { ...headers }
    removeHopByHop(out)
    appendVia(out, via)
    return out
  }

  app.all('/*', { config: { cache: true } }, (request, reply) => {
    const res = reply.raw
    const interim: InterimSink = (status, headers) => forwardInterim(res, status, headers)
    return reply.from(request.url, {
      // A HEAD the cache captures goes upstream as a GET: its body is stored for later GETs and
      // HEADs (Node sends the client none), as Varnish does on a miss.
      ...(request.method === 'HEAD' && reply.cache.capturing ? { method: 'GET' as const } : {}),
      rewriteRequestHeaders: (forwarded, headers) => {
        const out = rewriteRequestHeaders(forwarded, headers)
        ;(out as Record<symbol, InterimSink>)[kInterimSink] = interim
        return out
      },
      rewriteHeaders,
      // reply-from retries a GET answered 503 up to ten times by default: a cache in front of a
      // failing origin must not multiply its load (stale-if-error is the answer to a 503).
      retryDelay: () => null,
      onError: (failed, { error }) => originFailed(failed as FastifyReply, error),
    })
  })

  return app
}
