// Invalidation by unsafe methods (RFC 9111 §4.4): a successful (2xx/3xx) response to any method
// but GET, HEAD, OPTIONS and TRACE (POST, PUT, PATCH, DELETE, and unknown ones) invalidates the
// stored responses of its URL, of a same-origin `Location` or `Content-Location`, and of the groups
// its `Cache-Group-Invalidation` names (RFC 9875 §3, see cache-groups.ts). Done in `onSend`, before
// the response goes out, so a client that reads the URL right after its write never sees the old
// entry. Each URL is one delete (variants.ts); one the store cannot take is kept by the engine as a
// debt, honoured at once by this instance and replayed when the store answers again.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isPromise, type MaybePromise } from '../store.js'
import { groupTags } from './cache-groups.js'
import { sameOriginTarget, urlKey } from './key.js'
import { isUnsafeMethod } from './policy.js'
import type { RouteCache } from './route-cache.js'

/** The `onSend` hook of routes with an unsafe method. */
export function invalidateOnUnsafe(
  rc: RouteCache,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (err: null, payload: unknown) => void,
): void {
  const status = reply.statusCode
  if (
    rc.cachedRoutes === 0 ||
    status < 200 ||
    status >= 400 ||
    !isUnsafeMethod(request.raw.method ?? 'GET') ||
    rc.backend.closed()
  ) {
    done(null, payload)
    return
  }
  const host = request.host
  const targets = [request.url]
  for (const name of ['location', 'content-location']) {
    const value = reply.getHeader(name)
    const target = typeof value === 'string' ? sameOriginTarget(value, host) : undefined
    if (target !== undefined) targets.push(target)
  }
  const pending = targets.map((target) => invalidateUrl(rc, host, target))
  // Cache Groups (RFC 9875 §3): every stored response of this origin in the named groups.
  const groups = groupTags(request, reply.getHeader('cache-group-invalidation'))
  if (groups.length > 0) pending.push(rc.invalidateTags(groups))
  if (pending.every((p) => !isPromise(p))) {
    done(null, payload)
    return
  }
  Promise.all(pending).then(
    () => done(null, payload),
    () => done(null, payload),
  )
}

/** Invalidates the stored responses of one URL, every variant included. */
export function invalidateUrl(rc: RouteCache, host: string, url: string): MaybePromise<unknown> {
  return rc.store.invalidate(rc.prefix + urlKey(host, url, rc.options.ignoreQuery), (task) =>
    rc.backend.track(task),
  )
}
