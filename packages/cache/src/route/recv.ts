// Recv and hash: the first step of a request on a cached route. Decides whether the request may
// use the cache at all (method, credentials, a body, override headers, an oversized header) and
// computes what it is looked up by: the URL key, the route's own key dimensions, and, in strict
// mode, the request's cache directives. Then hands it to the lookup (lookup.ts), or to the
// handler as a bypass or a forced miss.
import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type CacheRouteLookupEvent, channels } from '../channels.js'
import { NO_DIRECTIVES, parseCacheControl, requestNoCache } from './cache-control.js'
import { Lookup } from './capture.js'
import { bypass } from './deliver.js'
import { lp } from './key.js'
import { hotLookup, lookupSlot } from './lookup.js'
import { miss } from './miss.js'
import { bypassReason } from './policy.js'
import { takeRefresh } from './refresh.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'
import { secretDigest, VARY_TOO_LARGE, varySuffix } from './vary.js'

/** The cached route's hook (onRequest or preHandler). Serves hits itself; calls `done` otherwise. */
export function recv(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  const raw = request.raw
  const method = raw.method
  if ((method !== 'GET' && method !== 'HEAD') || rc.backend.closed()) {
    done()
    return
  }
  const headers = raw.headers
  if (rc.refreshes.size !== 0 && takeRefresh(rc, route, request, reply, done)) return
  // The lookup starts (its outcome follows on `route`): a subscriber may time it.
  if (channels.routeLookup.hasSubscribers) {
    channels.routeLookup.publish({
      route: route.label,
      store: rc.backend.storeName,
      request,
    } satisfies CacheRouteLookupEvent)
  }
  const reason = bypassReason(headers, route)
  if (reason !== undefined) {
    bypass(rc, route, reply, reason, done)
    return
  }
  let dims = ''
  if (route.hasDimensions) {
    const found = dimensions(rc, route, request)
    if (found === VARY_TOO_LARGE) {
      bypass(rc, route, reply, 'VARY-TOO-LARGE', done)
      return
    }
    dims = found
  }
  if (hasForwarding(raw)) {
    const found = forwarding(rc, request)
    if (found === VARY_TOO_LARGE) {
      bypass(rc, route, reply, 'VARY-TOO-LARGE', done)
      return
    }
    dims += found
  }
  let directives = NO_DIRECTIVES
  let forced = false
  const options = rc.options
  if (options.strict || options.honorRequestNoCache) {
    const field = headers['cache-control']
    directives = parseCacheControl(field)
    const pragma = typeof headers.pragma === 'string' ? headers.pragma : undefined
    forced = requestNoCache(directives, field !== undefined, pragma)
    if (!options.strict) directives = NO_DIRECTIVES
  }
  const keys = route.keys
  keys.set(request.host, request.url)
  const key = keys.key
  if (!forced && dims === '' && directives === NO_DIRECTIVES) {
    hotLookup(rc, route, key, keys.slot, request, reply, done)
    return
  }
  const ctx = new Lookup(route, key, dims, directives)
  if (options.strict && directives.noStore) {
    ctx.requestNoStore = true
    forced = true
  }
  if (forced) {
    // RFC 9111 §5.2.1.4: the client asked for a response validated at the origin.
    ctx.fwd = 'request'
    miss(rc, ctx, request, reply, done)
    return
  }
  lookupSlot(rc, ctx, request, reply, done)
}

/**
 * The forwarding inputs of a request, as a variant part of its key. Handlers build absolute links
 * from `request.protocol` and `request.host` (which Fastify derives from `X-Forwarded-Proto` /
 * `X-Forwarded-Host` when `trustProxy` is on) or read those headers themselves: left out of the key,
 * one client's `X-Forwarded-Host: evil.example` is stored and served to everyone (cache poisoning,
 * PortSwigger 2018). So the raw `X-Forwarded-Host`, `X-Forwarded-Proto` and `Forwarded` values are
 * keyed whenever present, trusted or not (a hostile value only gets an entry of its own), and so is
 * a TLS connection's `https`. They are a variant part, not part of the URL: an invalidation of the
 * URL, whatever headers the writing request had, reaches every one of them. The host as Fastify
 * derives it is in the URL part already (key.ts).
 */
function forwarding(rc: RouteCache, request: FastifyRequest): string | typeof VARY_TOO_LARGE {
  const raw = request.raw
  const headers = raw.headers
  let dims = ''
  if ((raw.socket as { encrypted?: boolean } | null)?.encrypted === true) dims += 'p5:https'
  const max = rc.options.maxVaryValueLength
  for (let i = 0; i < FORWARDING.length; i++) {
    const value = headers[FORWARDING[i]!]
    if (value === undefined) continue
    const text = Array.isArray(value) ? value.join(', ') : value
    if (text.length > max) return VARY_TOO_LARGE
    dims += `f${i}${lp(text)}`
  }
  return dims
}

/**
 * Whether the request has forwarding inputs (see {@link forwarding}): a variant part of its key.
 * Three property reads and the socket's flag when absent, which is the hot path.
 */
export function hasForwarding(raw: IncomingMessage): boolean {
  const headers = raw.headers
  return (
    headers['x-forwarded-host'] !== undefined ||
    headers['x-forwarded-proto'] !== undefined ||
    headers.forwarded !== undefined ||
    (raw.socket as { encrypted?: boolean } | null)?.encrypted === true
  )
}

/** The forwarding headers keyed (see {@link forwarding}), by index in the key. */
const FORWARDING = ['x-forwarded-host', 'x-forwarded-proto', 'forwarded'] as const

/** The route's own key dimensions: its `key()`, credentials it accepts, its `vary` headers. */
function dimensions(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
): string | typeof VARY_TOO_LARGE {
  const headers = request.raw.headers
  let dims = ''
  if (route.key !== undefined) dims += `k${lp(String(route.key(request)))}`
  if (route.allowAuthorization) {
    const value = headers.authorization
    dims += value === undefined ? 'a~' : `a${lp(secretDigest(value))}`
  }
  if (route.allowCookie) {
    const value = headers.cookie
    dims += value === undefined ? 'c~' : `c${lp(secretDigest(value))}`
  }
  if (route.vary.length > 0) {
    const vary = varySuffix(route.vary, headers, rc.options.maxVaryValueLength, route.acceptEncoding)
    if (vary === VARY_TOO_LARGE) return VARY_TOO_LARGE
    dims += vary
  }
  return dims
}
