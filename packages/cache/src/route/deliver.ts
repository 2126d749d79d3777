// Deliver: what goes back to the client when the cache answers by itself (a hit, a 304 from a
// stored response, a collapsed miss) and the `Cache-Status` of requests it does not serve.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type CacheRouteEvent, channels } from '../channels.js'
import type { StoredEntry } from '../store.js'
import { ttlSeconds } from './cache-status.js'
import { hasConditional, isNotModified } from './conditional.js'
import type { BypassReason } from './policy.js'
import { type ByteRange, rangeOf } from './range.js'
import type { CachedResponse } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'
import { latin1Body, sendableBody } from './text-body.js'

/** Headers a 304 built from a reply keeps (RFC 9110 §15.4.5: no other representation metadata). */
export const NOT_IN_304 = /^content-|^last-modified$|^transfer-encoding$/

/** Current age of a stored response, whole seconds (RFC 9111 §4.2.3). */
export function ageOf(entry: StoredEntry, response: CachedResponse, now: number): number {
  return Math.max(0, Math.floor((now - entry.createdAt) / 1000)) + response.initialAgeSec
}

/**
 * `<name>; hit; ttl=N`, remembered per decoded entry for the second it is valid: a hot entry
 * builds its status string once per second, not once per request.
 */
export function hitStatus(rc: RouteCache, response: CachedResponse, entry: StoredEntry, now: number): string {
  const ttl = ttlSeconds(entry.freshUntil, now)
  if (response.hitTtl !== ttl) {
    response.hitTtl = ttl
    response.hitStatus = rc.status.hit(ttl)
  }
  return response.hitStatus
}

/**
 * A stored response's head as `writeHead`'s flat list, for the age and the `Cache-Status` (or
 * none) it was made with: what the edge and written hits keep per response (see {@link headList}).
 */
export class PreparedHead {
  readonly list: Array<string | string[]>
  readonly age: number
  /** What else the list was made for: the edge's ttl, a written hit's status string. */
  readonly key: number | string
  readonly owner: RouteCache
  constructor(list: Array<string | string[]>, age: number, key: number | string, owner: RouteCache) {
    this.list = list
    this.age = age
    this.key = key
    this.owner = owner
  }

  /** Whether this head is the one for `age` and `key` in `owner` (same second, same ttl or status). */
  fits(age: number, key: number | string, owner: RouteCache): boolean {
    return this.age === age && this.key === key && this.owner === owner
  }
}

/**
 * `writeHead`'s flat header list for a stored response: its headers, `Content-Length`, `Age` and
 * `Cache-Status`. Node writes a flat list without building a header object.
 */
export function headList(
  rc: RouteCache,
  response: CachedResponse,
  age: number,
  cacheStatus: string | undefined,
): Array<string | string[]> {
  const list: Array<string | string[]> = []
  const names = response.headerNames
  const values = response.headerValues
  for (let i = 0; i < names.length; i++) list.push(names[i]!, values[i]!)
  // RFC 9110 §8.6: no Content-Length on a 204. Never stored, so never twice.
  if (response.status !== 204) list.push('content-length', String(response.body.length))
  list.push('age', String(age))
  if (cacheStatus !== undefined && rc.options.cacheStatus) {
    list.push('cache-status', response.cacheStatusPrefix + cacheStatus)
  }
  return list
}

/** Sends a stored response (or a 304 from it). */
export function serve(
  rc: RouteCache,
  request: FastifyRequest,
  reply: FastifyReply,
  entry: StoredEntry,
  response: CachedResponse,
  now: number,
  status: string,
  outcome: CacheRouteEvent['outcome'],
  written = false,
): void {
  const age = ageOf(entry, response, now)
  const headers = request.raw.headers
  if (hasConditional(headers) && isNotModified(headers, response)) {
    publish(request, 'not-modified')
    notModified(rc, reply, response, age, status)
    return
  }
  // One property read when absent (the hot path); If-None-Match came first (RFC 9110 §13.2.2).
  if (headers.range !== undefined) {
    const range = rangeOf(request.raw.method, headers, response)
    if (range !== undefined) {
      servePartial(rc, request, reply, response, range, age, status, outcome)
      return
    }
  }
  if (written && request.raw.httpVersionMajor === 1) {
    if (channels.route.hasSubscribers) publish(request, outcome)
    writeHit(rc, request, reply, response, age, status)
    return
  }
  reply.code(response.status)
  // Names and values precomputed at decode time: no Object.keys() per hit.
  const names = response.headerNames
  const values = response.headerValues
  for (let i = 0; i < names.length; i++) reply.header(names[i]!, values[i])
  reply.header('age', age)
  if (rc.options.cacheStatus) reply.header('cache-status', response.cacheStatusPrefix + status)
  if (channels.route.hasSubscribers) publish(request, outcome)
  // HEAD: Fastify's HEAD route (or Node for a HEAD request) sends the length and drops the body.
  // An ASCII body goes as a string: one write with the head (text-body.ts).
  if (response.body.length === 0) reply.send()
  else reply.send(sendableBody(response))
}

/**
 * A hit written to the socket by the cache itself, as the edge writes it (edge.ts), for a route
 * whose hits nothing else would see or change on the way out (hook-order.ts `hitsMayBeWritten`: no
 * `onRequest` hook before the lookup could have set a header, no `onSend` hook). Fastify's
 * `reply.send()` would do the same work with more steps: headers set one by one, the string body's
 * length counted again, an `onSend` runner, a header object. `onResponse` hooks and Fastify's
 * request log still run: they follow the response's `finish`, not `send()`. Measured on a 2 KB JSON
 * hit: see docs/benchmarks.md "Issue 18".
 */
function writeHit(
  rc: RouteCache,
  request: FastifyRequest,
  reply: FastifyReply,
  response: CachedResponse,
  age: number,
  status: string,
): void {
  let known = response.writtenPrepared
  if (known === null || !known.fits(age, status, rc)) {
    known = new PreparedHead(headList(rc, response, age, status), age, status, rc)
    response.writtenPrepared = known
  }
  reply.hijack()
  writeStored(reply.raw, response, known.list, request.raw.method === 'HEAD')
}

/**
 * Writes a stored response with `list` as its head, for the two paths that bypass `reply.send()`
 * (written hits here, the edge): for HEAD the same head (Content-Length of the GET response,
 * RFC 9110 §9.3.2) and no content; else the body in the same write as the head (text-body.ts).
 */
export function writeStored(
  res: ServerResponse,
  response: CachedResponse,
  list: Array<string | string[]>,
  head: boolean,
): void {
  res.writeHead(response.status, list)
  if (head || response.body.length === 0) {
    res.end()
    return
  }
  const body = latin1Body(response)
  if (body === undefined) res.end(response.body)
  else res.end(body, 'latin1')
}

/**
 * A Range request answered from a stored complete response (range.ts): a 206 with the stored
 * headers and the one range asked for, or a 416 saying the representation's length.
 */
function servePartial(
  rc: RouteCache,
  request: FastifyRequest,
  reply: FastifyReply,
  response: CachedResponse,
  range: ByteRange | 'unsatisfiable',
  age: number,
  status: string,
  outcome: CacheRouteEvent['outcome'],
): void {
  const length = response.body.length
  if (channels.route.hasSubscribers) publish(request, outcome)
  if (range === 'unsatisfiable') {
    // Only what a 416 means (RFC 9110 §15.5.17): none of the stored response's fields, whose
    // Cache-Control would let a cache downstream keep the 416 under the URL.
    reply.code(416).header('content-range', `bytes */${length}`)
    if (rc.options.cacheStatus) reply.header('cache-status', response.cacheStatusPrefix + status)
    reply.send()
    return
  }
  reply.code(206)
  const names = response.headerNames
  const values = response.headerValues
  for (let i = 0; i < names.length; i++) reply.header(names[i]!, values[i])
  reply.header('accept-ranges', 'bytes')
  reply.header('content-range', `bytes ${range.start}-${range.end}/${length}`)
  reply.header('age', age)
  if (rc.options.cacheStatus) reply.header('cache-status', response.cacheStatusPrefix + status)
  reply.send(response.body.subarray(range.start, range.end + 1))
}

/** Sends a response another request produced while this one waited (`collapsed`). */
export function serveCollapsed(
  rc: RouteCache,
  request: FastifyRequest,
  reply: FastifyReply,
  response: CachedResponse,
): void {
  const now = Date.now()
  const entry = { createdAt: now, freshUntil: now } as StoredEntry
  serve(rc, request, reply, entry, response, now, rc.status.collapsed, 'collapsed')
}

/** A 304 answered from a stored response: RFC 9110 §15.4.5's fields plus Age and Cache-Status, no body. */
function notModified(
  rc: RouteCache,
  reply: FastifyReply,
  response: CachedResponse,
  age: number,
  status: string,
): void {
  const headers: OutgoingHttpHeaders = {}
  // Headers set on this reply before the cache's hook (CORS, request ids) still apply.
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (!NOT_IN_304.test(name) && value !== undefined) headers[name] = value
  }
  Object.assign(headers, response.notModifiedHeaders)
  headers.age = String(age)
  if (rc.options.cacheStatus) headers['cache-status'] = response.cacheStatusPrefix + status
  // Written directly: Fastify's generated HEAD route would add `Content-Length: 0`, which a 304
  // must not carry (RFC 9110 §8.6: only the length the 200 would have had).
  reply.hijack()
  reply.raw.writeHead(304, headers)
  reply.raw.end()
}

/** A request that does not use the cache: says why, and lets it go on to the handler. */
export function bypass(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  reply: FastifyReply,
  reason: BypassReason,
  done: () => void,
): void {
  if (rc.options.cacheStatus) reply.header('cache-status', rc.status.bypass(reason))
  publishBypass(route, reason, reply.request)
  done()
}

export function publishBypass(
  route: ResolvedRouteConfig,
  reason: BypassReason,
  request?: FastifyRequest,
): void {
  if (!channels.route.hasSubscribers) return
  channels.route.publish({
    route: route.label,
    outcome: 'bypass',
    detail: reason,
    request,
  } satisfies CacheRouteEvent)
}

export function publish(
  request: FastifyRequest,
  outcome: CacheRouteEvent['outcome'],
  stored?: boolean,
  detail?: string,
): void {
  if (!channels.route.hasSubscribers) return
  const route = `${request.routeOptions.method} ${request.routeOptions.url}`
  channels.route.publish({ route, outcome, stored, detail, request } satisfies CacheRouteEvent)
}

/**
 * An error in a continuation of the lookup (a store answered asynchronously): the request must
 * not hang, and the process must not see an unhandled rejection. Fastify answers it as an error
 * of the hook, unless a response already went out.
 */
export function failed(reply: FastifyReply, done: (error?: Error) => void, error: unknown): void {
  if (reply.sent || reply.raw.headersSent) {
    reply.log.error({ err: error }, 'route cache failed after the response was sent')
    return
  }
  done(error instanceof Error ? error : new Error(String(error)))
}
