// Lookup: reading what the store holds for a request. The URL's slot first; when it holds a
// variant record, the two variant slots this request's variant may be in (variants.ts); then, for
// a tagged entry, its tags' versions. What was found goes to the hit decision (hit.ts); nothing
// usable is a miss (miss.ts). All store calls of one lookup share one deadline (the engine's
// `storeTimeout`), so a frozen store costs a request one timeout, not one per read.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isPromise, type StoredEntry } from '../store.js'
import { NO_DIRECTIVES } from './cache-control.js'
import { Lookup } from './capture.js'
import { bypass, failed, hitStatus, serve } from './deliver.js'
import { markForEdge } from './edge.js'
import { decide } from './hit.js'
import { miss } from './miss.js'
import { CachedResponse, FLAG_ALWAYS_REVALIDATE, VariantRecord } from './response-codec.js'
import type { RouteCache } from './route-cache.js'
import type { ResolvedRouteConfig } from './route-options.js'
import { VARY_TOO_LARGE } from './vary.js'

/**
 * The hot path: a route without key dimensions, no request directives. A plain entry (no Vary),
 * no tags, fresh, is served without allocating the lookup state; from a synchronous store
 * (memory, or an L1 hit) at once, from a remote one in the read's own continuation (one reaction,
 * not `then().catch()`: one promise and one microtask fewer per hit). Anything else goes the
 * general way with the slot already read.
 */
export function hotLookup(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  key: string,
  slotKey: string,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  const slot = rc.backend.get(slotKey)
  if (!isPromise(slot)) {
    if (serveFresh(rc, route, request, reply, slot, slotKey, false)) return
    onSlot(rc, new Lookup(route, key, '', NO_DIRECTIVES), request, reply, done, slot, false)
    return
  }
  // The budget the slot read started with, for the reads that may follow it.
  const read = rc.backend.lastRead()
  slot.then(
    (entry) => {
      try {
        if (serveFresh(rc, route, request, reply, entry, slotKey, true)) return
        const ctx = new Lookup(route, key, '', NO_DIRECTIVES)
        ctx.deadline = read.deadline
        onSlot(rc, ctx, request, reply, done, entry, true)
      } catch (error) {
        failed(reply, done, error)
      }
    },
    () => missSafely(rc, new Lookup(route, key, '', NO_DIRECTIVES), request, reply, done),
  )
}

/**
 * The hot path's decision, the one `decide` makes for a plain entry: a fresh, untagged stored
 * response that needs no revalidation is served (answers `true`).
 */
function serveFresh(
  rc: RouteCache,
  route: ResolvedRouteConfig,
  request: FastifyRequest,
  reply: FastifyReply,
  entry: StoredEntry | undefined,
  slotKey: string,
  remote: boolean,
): boolean {
  if (entry === undefined || entry.tags.length !== 0) return false
  const stored = rc.store.read(slotKey, entry, remote)
  const now = Date.now()
  if (
    !(stored instanceof CachedResponse) ||
    now >= entry.freshUntil ||
    (stored.flags & FLAG_ALWAYS_REVALIDATE) !== 0
  ) {
    return false
  }
  // A route served at the edge: this process-local object may answer there from now on (edge.ts).
  const mark = route.atEdge.mark
  if (mark != null) markForEdge(rc, mark, request.raw.method, entry, stored, undefined, undefined)
  serve(
    rc,
    request,
    reply,
    entry,
    stored,
    now,
    hitStatus(rc, stored, entry, now),
    'hit',
    route.written.allowed,
  )
  return true
}

/** The general lookup: reads the URL's slot. */
export function lookupSlot(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  const slot = rc.backend.get(rc.prefix + ctx.urlKey)
  if (isPromise(slot)) {
    ctx.deadline = rc.backend.lastRead().deadline
    proceed(rc, slot, ctx, request, reply, done, (entry) =>
      onSlot(rc, ctx, request, reply, done, entry, true),
    )
    return
  }
  onSlot(rc, ctx, request, reply, done, slot, false)
}

/**
 * Goes on with `next` once a lookup step the store answers asynchronously settles: a rejected
 * step is a miss, and an error thrown further on is the request's (`failed`).
 */
function proceed<T>(
  rc: RouteCache,
  step: Promise<T>,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
  next: (value: T) => void,
): void {
  step.then(
    (value) => {
      try {
        next(value)
      } catch (error) {
        failed(reply, done, error)
      }
    },
    () => missSafely(rc, ctx, request, reply, done),
  )
}

function missSafely(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  try {
    miss(rc, ctx, request, reply, done)
  } catch (error) {
    failed(reply, done, error)
  }
}

/**
 * The store has nothing for this request: a response this process committed and is still writing
 * may answer it (read your own writes, `VariantStore.land`); otherwise a miss.
 */
function missOrLanding(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
): void {
  if (rc.store.landingCount !== 0) {
    const landing = rc.store.findLanding(
      rc.prefix + ctx.urlKey,
      ctx.route,
      ctx.dims,
      request.raw.headers,
      ctx.deadline,
    )
    if (landing !== undefined) {
      ctx.suffix = landing.variant
      onEntry(rc, ctx, request, reply, done, landing.entry, landing.response)
      return
    }
  }
  miss(rc, ctx, request, reply, done)
}

/** What the URL's slot holds: a plain response, a variant record, or nothing usable. */
function onSlot(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
  entry: StoredEntry | undefined,
  remote: boolean,
): void {
  if (entry === undefined) {
    missOrLanding(rc, ctx, request, reply, done)
    return
  }
  const slotKey = rc.prefix + ctx.urlKey
  const stored = rc.store.read(slotKey, entry, remote)
  if (stored instanceof CachedResponse) {
    ctx.occupied = true
    // A plain entry never serves a request whose key has a variant part (route dimensions, or
    // forwarding headers): it was stored for requests without one.
    if (ctx.dims !== '') {
      miss(rc, ctx, request, reply, done)
      return
    }
    ctx.suffix = ''
    onEntry(rc, ctx, request, reply, done, entry, stored)
    return
  }
  if (!(stored instanceof VariantRecord)) {
    // A value we cannot read (another version's layout, a foreign writer): replaced on the miss.
    ctx.occupied = true
    miss(rc, ctx, request, reply, done)
    return
  }
  ctx.record = stored
  ctx.recordEntry = entry
  const variant = rc.store.variantKey(stored, ctx.route, ctx.dims, request.raw.headers)
  if (variant === VARY_TOO_LARGE) {
    bypass(rc, ctx.route, reply, 'VARY-TOO-LARGE', done)
    return
  }
  ctx.suffix = variant
  ctx.fwd = 'vary-miss'
  const slots = rc.store.variantSlots(slotKey, stored.generation, variant)
  const deadline = Number.isNaN(ctx.deadline) ? undefined : ctx.deadline
  const found = rc.backend.getMany(slots, deadline)
  const pick = (entries: ReadonlyArray<StoredEntry | undefined>, async: boolean) => {
    const picked = rc.store.pick(slots, entries, variant, async)
    ctx.target = picked.target
    if (picked.found === undefined) missOrLanding(rc, ctx, request, reply, done)
    else onEntry(rc, ctx, request, reply, done, picked.found, picked.response!)
  }
  if (isPromise(found)) {
    if (deadline === undefined) ctx.deadline = rc.backend.lastRead().deadline
    proceed(rc, found, ctx, request, reply, done, (entries) => pick(entries, true))
    return
  }
  pick(found, false)
}

/** A stored response for this request: its tags' state decides with its age (hit.ts). */
function onEntry(
  rc: RouteCache,
  ctx: Lookup,
  request: FastifyRequest,
  reply: FastifyReply,
  done: () => void,
  entry: StoredEntry,
  response: CachedResponse,
): void {
  if (entry.tags.length === 0) {
    decide(rc, ctx, request, reply, done, entry, response, 0)
    return
  }
  const state = rc.backend.tagState(entry, Number.isNaN(ctx.deadline) ? undefined : ctx.deadline)
  if (isPromise(state)) {
    proceed(rc, state, ctx, request, reply, done, (s) =>
      decide(rc, ctx, request, reply, done, entry, response, s),
    )
    return
  }
  decide(rc, ctx, request, reply, done, entry, response, state)
}
