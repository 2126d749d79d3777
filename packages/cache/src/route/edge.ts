// The edge path (opt-in: `routes.edge`, or a route's `config.cache.edge`). Fresh hits of eligible
// routes are answered from a `request` listener that takes the place of Fastify's own, before
// routing: no FastifyRequest or FastifyReply is built and no hook runs. That is the security model
// of a reverse-proxy cache in front of the app, which is why it is opt-in; the default stays hooks
// first (hook-order.ts).
//
// What keeps it exactly as strict as the normal path:
// - No routing. The normal path, when it serves a fresh hit for a route that may use the edge,
//   marks the process-local decoded object (`CachedResponse`, `VariantRecord`) with that route's
//   `EdgeMark` (per method: GET and HEAD are separate routes to Fastify). The edge reads the URL's
//   slot under the same key (`urlKey` of the Host and raw URL) and serves only an object its own
//   route cache marked. Anything else falls through to Fastify unchanged, so the first request
//   after each write goes the normal way.
// - Synchronous reads only (`RouteBackend.peek`): the memory store, or an L1 hit. A remote store
//   is never read here; an L1 miss falls through.
// - The request checks of recv.ts, in the same terms: `bypassReason` (Authorization, Cookie, a
//   body, method overrides), forwarding inputs and TLS (which key a variant part: fall through),
//   request directives when `strict` / `honorRequestNoCache`, `Range`, pending refreshes.
// - The same variant key as the normal path (`varySuffix`, `VariantStore.variantKey`), and the
//   hit decision of lookup.ts's hot path: untagged, fresh, no FLAG_ALWAYS_REVALIDATE.
//   Conditional requests get deliver.ts's 304.
// Eligibility (decided once per route, on its first request, as the early/late choice is): the
// route asked for it, its hits may come before every hook (`hitsMayComeBeforeHooks`: no
// `onRequest`, `preParsing`, `preValidation` or `preHandler` hook but those named in `skipHooks`),
// it has no `key()`, `allowAuthorization` or `allowCookie` (they need a FastifyRequest or key
// credentials), the app rewrites no URL (`rewriteUrl`) and no route has constraints (both make
// the route depend on more than the method and URL the key holds).
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { FastifyRequest } from 'fastify'
import { type CacheEdgeEvent, channels } from '../channels.js'
import type { StoredEntry } from '../store.js'
import { ttlSeconds } from './cache-status.js'
import { hasConditional, isNotModified } from './conditional.js'
import { ageOf, headList, PreparedHead, writeStored } from './deliver.js'
import { hitsMayComeBeforeHooks } from './hook-order.js'
import { bypassReason } from './policy.js'
import { hasForwarding } from './recv.js'
import { CachedResponse, FLAG_ALWAYS_REVALIDATE, VariantRecord } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'
import { VARY_TOO_LARGE, varySuffix } from './vary.js'

/** What the normal path marks decoded responses with: this route (of this route cache) may serve them at the edge. */
export class EdgeMark {
  readonly rc: RouteCache
  readonly route: ResolvedRouteConfig
  /** `METHOD /template`, as the normal path's `route` events name it. */
  readonly label: string
  /** The route's config object, for subscribers that keep state on it (timing). */
  readonly config: object

  constructor(rc: RouteCache, route: ResolvedRouteConfig, label: string, config: object) {
    this.rc = rc
    this.route = route
    this.label = label
    this.config = config
  }
}

/** Edge routes never key credentials: `bypassReason` then refuses any Authorization or Cookie. */
const NO_CREDENTIALS = Object.freeze({ allowAuthorization: false, allowCookie: false })

/**
 * A route's edge decision, on its first request through the early lookup (route-cache.ts):
 * its mark, or `null` when it is never served at the edge (logged at info with the reason when
 * the route asked for the edge). Installs the edge listener for the first eligible route.
 */
export function edgeDecision(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
  early: string,
  late: string,
): EdgeMark | null {
  if (!route.edge) return null
  const reason = refusal(rc, route, request, early, late)
  const label = `${request.routeOptions.method} ${request.routeOptions.url}`
  if (reason !== undefined) {
    rc.app.log.info({ route: label, reason }, '@fastify-perf/cache: route not served at the edge')
    return null
  }
  if (!install(rc)) return null
  return new EdgeMark(rc, route, label, request.routeOptions.config as object)
}

function refusal(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
  early: string,
  late: string,
): string | undefined {
  // The edge reads synchronously only: without the memory store or an L1 it would never answer.
  if (!rc.backend.peekable) return 'a remote store without an L1 tier (the edge reads memory only)'
  if (route.key !== undefined) return 'config.cache.key needs a Fastify request'
  if (route.allowAuthorization || route.allowCookie) return 'allowAuthorization / allowCookie'
  // Set by Fastify only when `rewriteUrl` is: the route then depends on more than the raw URL.
  if ((request.raw as { originalUrl?: unknown }).originalUrl !== undefined) return 'the app has rewriteUrl'
  if (rc.constrainedRoutes) return 'the app has routes with constraints'
  if (!hitsMayComeBeforeHooks(request, early, late, route.skipHooks)) {
    return 'hooks apply to the route (name them in config.cache.skipHooks to serve hits before them)'
  }
  return undefined
}

// --- the listener ------------------------------------------------------------------------------

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** One per server: the route caches served at its edge, and the listener in Fastify's place. */
interface EdgeServer {
  readonly caches: RouteCache[]
  readonly routing: Listener
  readonly listener: Listener
}

// By server: several apps in one process have several servers; several route caches of one app
// (encapsulated registrations) share its server's listener.
const servers = new WeakMap<object, EdgeServer>()
/** Route caches that said once why their app has no edge. */
const refused = new WeakSet<RouteCache>()

/**
 * Puts the edge listener in the place of Fastify's `request` listener (the app's `routing`), if
 * it is a node:http(s) server listening with it. Other listeners keep their places: timing's
 * arrival marks run before it as before. Answers whether the route cache is served at the edge.
 */
function install(rc: RouteCache): boolean {
  const app = rc.app
  const server = app.server as unknown
  const known = servers.get(server as object)
  if (known !== undefined) {
    if (known.routing !== app.routing) return off(rc, 'the server is shared with another app')
    if (!known.caches.includes(rc)) known.caches.push(rc)
    return true
  }
  // HTTP/2 answers with compatibility objects and streams of a session: not served here.
  if (!(server instanceof http.Server || server instanceof https.Server)) {
    return off(rc, 'the server is not a node:http or node:https server (http2?)')
  }
  const routing = app.routing as Listener
  const caches: RouteCache[] = [rc]
  const listener = function fastifyPerfEdge(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method
    if (method === 'GET' || method === 'HEAD') {
      for (let i = 0; i < caches.length; i++) if (serveAtEdge(caches[i]!, req, res, method === 'HEAD')) return
    }
    routing(req, res)
  }
  if (!replaceListener(server, routing, listener)) {
    return off(rc, "Fastify's request listener is not on the server (a serverFactory wrapping it?)")
  }
  servers.set(server, { caches, routing, listener })
  return true
}

function off(rc: RouteCache, reason: string): false {
  if (!refused.has(rc)) {
    refused.add(rc)
    rc.app.log.info({ reason }, '@fastify-perf/cache: the edge path is off for this app')
  }
  return false
}

/**
 * The suite's protocol for `request` listeners that wrap Fastify's (`Symbol.for`, so it holds
 * between packages without an import): such a listener carries, under this key, the slot
 * (`{ listener }`) of the listener it calls. The timing plugin's arrival listener is one
 * (packages/timing/src/arrival.ts, which keeps the same function): the edge then takes Fastify's
 * place inside it, so timing still marks the arrival of an edge hit, in either order of set-up.
 */
const kRoutingSlot = Symbol.for('fastify-perf.routingSlot')
type Wrapper = Listener & { [kRoutingSlot]?: { listener: Listener } }

/**
 * Puts `to` where `from` is: among the server's `request` listeners (their order kept), or in the
 * slot of a wrapper that calls it. Returns whether `from` was found.
 */
function replaceListener(server: http.Server | https.Server, from: Listener, to: Listener): boolean {
  const listeners = server.rawListeners('request') as Wrapper[]
  if (listeners.includes(from)) {
    server.removeAllListeners('request')
    for (const listener of listeners) server.on('request', listener === from ? to : listener)
    return true
  }
  for (const listener of listeners) {
    let slot = listener[kRoutingSlot]
    // Bounded: a chain of wrappers, each installed once by a plugin.
    for (let depth = 0; slot !== undefined && depth < 16; depth++) {
      if (slot.listener === from) {
        slot.listener = to
        return true
      }
      slot = (slot.listener as Wrapper)[kRoutingSlot]
    }
  }
  return false
}

/** Takes a route cache off its server's edge (`preClose`); the last one gives Fastify its place back. */
export function uninstallEdge(rc: RouteCache): void {
  const server = rc.app.server as unknown as http.Server
  const known = servers.get(server)
  if (known === undefined) return
  const at = known.caches.indexOf(rc)
  if (at === -1) return
  known.caches.splice(at, 1)
  if (known.caches.length > 0) return
  replaceListener(server, known.listener, known.routing)
  servers.delete(server)
}

// --- serving -----------------------------------------------------------------------------------

/** Answers `req` from `rc` if the normal path would serve it the same fresh stored response. */
export function serveAtEdge(
  rc: RouteCache,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
): boolean {
  const headers = req.headers
  const host = headers.host
  if (
    host === undefined ||
    rc.refreshes.size !== 0 ||
    headers.range !== undefined ||
    bypassReason(headers, NO_CREDENTIALS) !== undefined ||
    // Forwarding inputs and TLS are a variant part of the key (recv.ts).
    hasForwarding(req)
  ) {
    return false
  }
  const options = rc.options
  if (
    (options.strict || options.honorRequestNoCache) &&
    (headers['cache-control'] !== undefined || headers.pragma !== undefined)
  ) {
    return false
  }
  if (rc.backend.closed()) return false
  const keys = rc.edgeKeys
  keys.set(host, req.url!)
  const slotKey = keys.slot
  const entry = rc.backend.peek(slotKey)
  if (entry === undefined) return false
  const found = rc.store.known(entry)
  if (found instanceof CachedResponse) {
    const mark = head ? found.edgeHead : found.edgeGet
    // A route with `vary` has a variant part in every key: its plain entries serve nobody.
    if (mark === undefined || mark.rc !== rc || mark.route.vary.length !== 0) return false
    return deliver(rc, mark, req, res, head, entry, found)
  }
  if (found instanceof VariantRecord) return serveVariant(rc, found, slotKey, req, res, head)
  return false
}

/** A URL whose responses vary: the request's variant, read from its two slots as lookup.ts does. */
function serveVariant(
  rc: RouteCache,
  record: VariantRecord,
  slotKey: string,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
): boolean {
  const mark = head ? record.edgeHead : record.edgeGet
  if (mark === undefined || mark.rc !== rc) return false
  const route = mark.route
  const headers = req.headers
  let dims = ''
  if (route.vary.length > 0) {
    const vary = varySuffix(route.vary, headers, rc.options.maxVaryValueLength, route.acceptEncoding)
    if (vary === VARY_TOO_LARGE) return false
    dims = vary
  }
  const variant = rc.store.variantKey(record, route, dims, headers)
  if (variant === VARY_TOO_LARGE) return false
  const slots = rc.store.variantSlots(slotKey, record.generation, variant)
  for (let i = 0; i < 2; i++) {
    const entry = rc.backend.peek(slots[i]!)
    if (entry === undefined) continue
    const response = rc.store.known(entry)
    if (!(response instanceof CachedResponse) || response.variant !== variant) continue
    if ((head ? response.edgeHead : response.edgeGet) !== mark) return false
    if (!deliver(rc, mark, req, res, head, entry, response)) return false
    rc.store.touch(slots[i]!)
    return true
  }
  return false
}

/** lookup.ts's hot-path decision (fresh, untagged, no revalidation), then the response or a 304. */
function deliver(
  rc: RouteCache,
  mark: EdgeMark,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  entry: StoredEntry,
  response: CachedResponse,
): boolean {
  if (entry.tags.length !== 0) return false
  const now = Date.now()
  if (now >= entry.freshUntil || (response.flags & FLAG_ALWAYS_REVALIDATE) !== 0) return false
  const headers = req.headers
  if (hasConditional(headers) && isNotModified(headers, response)) {
    notModified(rc, mark, req, res, entry, response, now)
    return true
  }
  let list = edgeHeadList(rc, response, entry, now)
  if (channels.route.hasSubscribers) {
    const extra = publishEdge(mark, req, res, response.status)
    if (extra.length !== 0) list = list.concat(extra)
  }
  writeStored(res, response, list, head)
  return true
}

/**
 * `writeHead`'s flat header list for a stored response (deliver.ts `headList`) with the edge's
 * `Cache-Status`, rebuilt when the age or ttl changes (once a second at most), else the same
 * array for every hit.
 */
function edgeHeadList(
  rc: RouteCache,
  response: CachedResponse,
  entry: StoredEntry,
  now: number,
): Array<string | string[]> {
  const age = ageOf(entry, response, now)
  const ttl = ttlSeconds(entry.freshUntil, now)
  let known = response.edgePrepared
  if (known === null || !known.fits(age, ttl, rc)) {
    const status = rc.options.cacheStatus ? rc.status.edgeHit(ttl) : undefined
    known = new PreparedHead(headList(rc, response, age, status), age, ttl, rc)
    response.edgePrepared = known
  }
  return known.list
}

/** deliver.ts's 304: RFC 9110 §15.4.5's fields of the stored response, `Age`, `Cache-Status`. */
function notModified(
  rc: RouteCache,
  mark: EdgeMark,
  req: IncomingMessage,
  res: ServerResponse,
  entry: StoredEntry,
  response: CachedResponse,
  now: number,
): void {
  let list: Array<string | string[]> = []
  for (const [name, value] of Object.entries(response.notModifiedHeaders)) list.push(name, value)
  list.push('age', String(ageOf(entry, response, now)))
  if (rc.options.cacheStatus) {
    list.push(
      'cache-status',
      response.cacheStatusPrefix + rc.status.edgeHit(ttlSeconds(entry.freshUntil, now)),
    )
  }
  if (channels.route.hasSubscribers) {
    const extra = publishEdge(mark, req, res, 304)
    if (extra.length !== 0) list = list.concat(extra)
  }
  res.writeHead(304, list)
  res.end()
}

/** Publishes an edge hit; answers the headers subscribers added. */
function publishEdge(mark: EdgeMark, req: IncomingMessage, res: ServerResponse, status: number): string[] {
  const event: CacheEdgeEvent = {
    route: mark.label,
    outcome: 'edge',
    req,
    res,
    status,
    config: mark.config,
    headers: [],
  }
  channels.route.publish(event)
  return event.headers
}

/**
 * Marks what the normal path serves as a fresh hit for a route with an edge mark: the response
 * and the URL's variant record, if any, for the request's method. What the edge finds is the
 * in-process decoded form of the entry object it peeks (`VariantStore.known`); a lookup that read
 * part of its way from the remote store (an L1 miss of a sibling variant slot) holds another
 * decoded object of the same bytes. So, when the store can be peeked at all (memory, or L1), the
 * in-process forms of `entry` and `recordEntry` are marked too, decoded once per entry object if
 * needed (the next reads of that key return that object from L1 or memory).
 */
export function markForEdge(
  rc: RouteCache,
  mark: EdgeMark,
  method: string | undefined,
  entry: StoredEntry,
  response: CachedResponse,
  record: VariantRecord | undefined,
  recordEntry: StoredEntry | undefined,
): void {
  if (method !== 'GET' && method !== 'HEAD') return
  const get = method === 'GET'
  markOne(response, mark, get)
  if (record !== undefined) markOne(record, mark, get)
  if (!rc.backend.peekable) return
  const local = rc.store.decode(entry)
  if (local instanceof CachedResponse && local !== response) markOne(local, mark, get)
  if (recordEntry !== undefined) {
    const localRecord = rc.store.decode(recordEntry)
    if (localRecord instanceof VariantRecord && localRecord !== record) markOne(localRecord, mark, get)
  }
}

function markOne(target: CachedResponse | VariantRecord, mark: EdgeMark, get: boolean): void {
  if (get) target.edgeGet = mark
  else target.edgeHead = mark
}
