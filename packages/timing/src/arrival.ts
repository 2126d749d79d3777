import type { AsyncLocalStorage } from 'node:async_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'

// Where a request starts for this plugin: a `request` listener in the place of Fastify's own
// (`fastify.routing`), which marks the arrival, enters the request's async context and calls
// Fastify's listener inside. Measured against the previous layout (a listener before Fastify's,
// one after it, and an onRequest hook calling `AsyncLocalStorage#run`): `timing-otel` 0.88–0.91
// of `limit` before, 0.93–0.95 after (docs/benchmarks.md). One listener instead of three saves
// the copy of the listener array Node's `emit` makes for each request; no onRequest hook saves
// Fastify's hook runner (three closures a request); `enterWith` makes one context frame where
// `run` makes two (it restores the prior one in `finally`).
//
// The context is not restored when Fastify's listener returns: Node restores the context of every
// callback it makes from native code (a socket's data, a timer) when that callback ends, so the
// request's context stays only on what this same callback does after Fastify returns (the next
// request parsed from the same chunk, which enters its own first).

/** A `request` listener of Node's HTTP server. */
export type Listener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The suite's protocol for listeners that wrap Fastify's `request` listener (`Symbol.for`, so it
 * holds between packages without an import, as `fastify-perf.contentCoding` does): such a
 * listener carries, under this key, the slot of the listener it calls. Another package that wants
 * Fastify's place (the route cache's edge path) replaces the slot's listener instead of the
 * wrapper, so both keep working in any order of installation and removal.
 */
export const kRoutingSlot: unique symbol = Symbol.for('fastify-perf.routingSlot') as never

/** The listener a wrapper calls. */
export interface RoutingSlot {
  listener: Listener
}

type Wrapper = Listener & { [kRoutingSlot]?: RoutingSlot }

/** The emitter's listeners with their places: the server's own list, or a wrapper's slot. */
interface ListenerHost {
  rawListeners(event: 'request'): Function[]
  removeAllListeners(event: 'request'): unknown
  on(event: 'request', listener: Listener): unknown
}

/**
 * Puts `to` where `from` is: among the server's `request` listeners (their order kept), or in the
 * slot of a wrapper that calls it. Returns whether `from` was found.
 */
export function replaceListener(server: ListenerHost, from: Listener, to: Listener): boolean {
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

/** What the timing plugin does as a request arrives, before Fastify sees it. */
export type ArrivalMark<M> = (message: M, response: ServerResponse) => void

/**
 * Installs the arrival listener in the place of Fastify's `routing` and returns the function that
 * takes it out. When Fastify's listener is not on the server (a `serverFactory` that calls it from
 * a listener of its own), falls back to a listener before every other and one after them: the same
 * marks, at the cost of two more listener calls per request.
 */
export function installArrival<M extends IncomingMessage>(
  server: ListenerHost & {
    prependListener(event: 'request', listener: Listener): unknown
    removeListener(event: 'request', listener: Function): unknown
  },
  routing: Listener,
  mark: ArrivalMark<M>,
  leave: () => void,
  storage: AsyncLocalStorage<M> | null,
): () => void {
  const enter: Listener = (message, response) => {
    mark(message as M, response)
    storage?.enterWith(message as M)
  }
  const slot: RoutingSlot = { listener: routing }
  const timedRouting: Wrapper = function fastifyPerfTimingArrival(message, response) {
    enter(message, response)
    try {
      slot.listener(message, response)
    } finally {
      leave()
    }
  }
  timedRouting[kRoutingSlot] = slot
  if (replaceListener(server, routing, timedRouting)) {
    // Out again: whatever is in our slot now (Fastify's listener, or an edge listener that took its
    // place and calls it) goes back where our wrapper is.
    return () => {
      replaceListener(server, timedRouting, slot.listener)
    }
  }
  server.prependListener('request', enter)
  server.on('request', leave)
  return () => {
    server.removeListener('request', enter)
    server.removeListener('request', leave)
  }
}
