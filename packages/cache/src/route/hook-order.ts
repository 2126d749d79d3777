// Where a cached route serves its hits: in `onRequest` (the fastest point: before body parsing,
// validation and every later hook) only when nothing that could refuse the request runs after it;
// otherwise in `preHandler`, after every hook. A route-level `preHandler` hook runs after the
// app-level ones, so the late lookup sees every access check, wherever and whenever it was
// registered (app-level or route-level, before or after the cache plugin).
//
// Fastify composes a route's final hook lists (app-level hooks of its encapsulation context,
// then route-level ones) when the app is ready, and keeps them on the route's context object,
// which is not public API (and holds the hooks bound to their instance, so they are known by
// name). It is reached through the request's own `fastify.context` symbol, once
// per route, on its first request. If a Fastify version hides it, every route takes the late
// lookup: slower hits, never a skipped check.
import type { FastifyRequest } from 'fastify'

/**
 * The route cache's app-level `preHandler` for routes declared before it (route-cache.ts
 * `attachEarlyRoutes`): it does nothing for a route `onRoute` saw, which every route with an early
 * lookup is. Any plugin that declares a route before the cache loads (timing's `/metrics`) adds
 * it, and it must not send every route's hits to the late lookup.
 */
const EARLY_ROUTES = 'fastifyPerfRouteCacheEarlyRoutes'

/**
 * Hooks of this suite that only observe, and that a hit may therefore come before. The second is
 * the `onRequest` hook with which earlier versions of the timing plugin entered its
 * AsyncLocalStorage context (it now enters it in its `request` listener and adds no hook): kept
 * so that a cache next to such a version still serves hits before it. A hit served before it
 * loses nothing: the timing plugin sees hits through the cache's events and its `onSend` hook.
 */
const OBSERVERS: ReadonlySet<string> = new Set([EARLY_ROUTES, 'fastifyPerfTimingContext'])

/** The hook kinds that run after `onRequest` and before the handler. */
const LATER = ['preParsing', 'preValidation', 'preHandler'] as const

let contextSymbol: symbol | null | undefined

export function routeContext(request: FastifyRequest): Record<string, unknown> | undefined {
  if (contextSymbol === undefined) {
    contextSymbol =
      Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null
  }
  if (contextSymbol === null) return undefined
  const context = (request as unknown as Record<symbol, unknown>)[contextSymbol]
  return typeof context === 'object' && context !== null ? (context as Record<string, unknown>) : undefined
}

function hooksOf(context: Record<string, unknown>, kind: string): readonly unknown[] {
  const hooks = context[kind]
  return Array.isArray(hooks) ? hooks : []
}

/** A hook's own name: Fastify binds hooks to their instance, which prefixes `bound `. */
function nameOf(hook: unknown): string {
  if (typeof hook !== 'function') return ''
  const name = hook.name
  return name.startsWith('bound ') ? name.slice(6) : name
}

/**
 * Whether this route's hits may be served in `onRequest` by the hook named `early`: every hook
 * that runs after it and before the handler is the cache's own `late` lookup or is named in `skip`.
 */
export function hitsMayComeFirst(
  request: FastifyRequest,
  early: string,
  late: string,
  skip: ReadonlySet<string>,
): boolean {
  const context = routeContext(request)
  if (context === undefined) return false
  const skippable = (hook: unknown) => mayPass(nameOf(hook), late, skip)
  const onRequest = hooksOf(context, 'onRequest')
  let at = -1
  for (let i = 0; i < onRequest.length; i++) if (nameOf(onRequest[i]) === early) at = i
  if (at === -1) return false
  for (let i = at + 1; i < onRequest.length; i++) if (!skippable(onRequest[i])) return false
  for (const kind of LATER) for (const hook of hooksOf(context, kind)) if (!skippable(hook)) return false
  return true
}

/**
 * Whether this route's hits may be served before routing, where no hook runs at all (the edge
 * path, edge.ts): {@link hitsMayComeFirst}, and every `onRequest` hook before `early` (app-level
 * hooks registered before the cache) is named in `skip` too.
 */
export function hitsMayComeBeforeHooks(
  request: FastifyRequest,
  early: string,
  late: string,
  skip: ReadonlySet<string>,
): boolean {
  if (!hitsMayComeFirst(request, early, late, skip)) return false
  for (const hook of hooksOf(routeContext(request)!, 'onRequest')) {
    if (!mayPass(nameOf(hook), early, skip)) return false
  }
  return true
}

/** Fastify's own last `onSend` hook of a generated HEAD route: it drops the body and sets its length. */
export const FASTIFY_HEAD_ON_SEND = 'headRouteOnSendHandler'

/**
 * The `onSend` hooks of Fastify's generated HEAD route: the route cache's `routeCacheKeepHeadBody`,
 * which keeps a miss's body for its capture (route-cache.ts `keepHeadBody`), and Fastify's. A
 * written hit does what they do for a HEAD request.
 */
const HEAD_ON_SEND: ReadonlySet<string> = new Set(['routeCacheKeepHeadBody', FASTIFY_HEAD_ON_SEND])

/**
 * Whether the early lookup (the hook named `early`) may write this route's hits to the socket
 * itself instead of through `reply.send()` (deliver.ts `writeHit`): no `onRequest` hook but an
 * observer runs before it, so none can have set a header on the reply, and the route has no
 * `onSend` hook (but those of the generated HEAD route), so none would see or change the response.
 */
export function hitsMayBeWritten(request: FastifyRequest, early: string): boolean {
  const context = routeContext(request)
  if (context === undefined) return false
  for (const hook of hooksOf(context, 'onRequest')) {
    const name = nameOf(hook)
    if (name === early) break
    if (!OBSERVERS.has(name)) return false
  }
  for (const hook of hooksOf(context, 'onSend')) if (!HEAD_ON_SEND.has(nameOf(hook))) return false
  return true
}

/** Whether a hit may be served without running the hook named `name`: the cache's `own`, an observer, or named in `skip`. */
function mayPass(name: string, own: string, skip: ReadonlySet<string>): boolean {
  return name === own || OBSERVERS.has(name) || (name !== '' && skip.has(name))
}
