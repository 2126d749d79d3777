import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import type { RedisClient } from './client.js'
import { FST_PERF_REDIS_NOT_READY } from './errors.js'
import type { ResolvedConnection } from './options.js'

export type { RedisClient }

/** A client, whether we own it, and how many connection errors it reported. */
export interface Connection {
  readonly client: RedisClient
  /** True when we created the client and so must close it. */
  readonly owned: boolean
  /** Connection errors ioredis reported on an owned client (`'error'` / `'node error'` events). */
  readonly errors: { count: number }
}

/**
 * Opens (or adopts) the client a resolved connection describes. A client we create gets an
 * `'error'` listener at once: ioredis prints every connection error of a client without one to
 * stderr, so a dead Redis would flood the log. The listener only counts: the engine's safe-store
 * logs failures itself, rate-limited, as they reach a caller.
 */
export function openConnection(connection: ResolvedConnection): Connection {
  const errors = { count: 0 }
  if (connection.kind === 'client') return { client: connection.client, owned: false, errors }
  const client: RedisClient =
    connection.kind === 'cluster'
      ? // ioredis may write into the objects it is given: hand it copies of the frozen options.
        new Cluster([...connection.nodes], { ...connection.options })
      : connection.url === undefined
        ? new Redis({ ...connection.options })
        : new Redis(connection.url, { ...connection.options })
  countErrors(client, errors)
  return { client, owned: true, errors }
}

/** Counts a client's `'error'` events (and a Cluster's `'node error'` ones) instead of printing them. */
export function countErrors(client: RedisClient, errors: { count: number }): void {
  const count = () => {
    errors.count++
  }
  client.on('error', count)
  if (client.isCluster) client.on('node error', count)
}

// How long close() waits for the server to hang up after QUIT before dropping the socket.
const QUIT_GRACE_MS = 1000
// Statuses with a socket whose closing ends in an 'end' event. A client waiting to reconnect has
// no socket: disconnect() just cancels the attempt and no event follows.
const WITH_SOCKET = new Set(['connecting', 'connect', 'ready'])

/**
 * Closes a client we created: a graceful `QUIT` when it is connected, so writes already sent are
 * answered, else (or when the server does not hang up within a second) an immediate disconnect.
 * Resolves once the socket is gone, so nothing outlives the store. Never throws.
 */
export async function closeClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return
  let onEnd = () => {}
  // A plain listener, not events.once(): that one rejects on an 'error' event, and a rejection
  // nobody awaits any more would surface as an unhandled rejection.
  const ended = new Promise<boolean>((resolve) => {
    onEnd = () => resolve(true)
    client.once('end', onEnd)
  })
  const endedWithin = (ms: number) => Promise.race([ended, sleep(ms, false, { ref: false })])
  try {
    if (client.status === 'ready') {
      client.quit().catch(() => {})
      if (await endedWithin(QUIT_GRACE_MS)) return
    }
    const hadSocket = WITH_SOCKET.has(client.status)
    client.disconnect()
    if (hadSocket) await endedWithin(QUIT_GRACE_MS)
  } finally {
    client.off('end', onEnd)
  }
}

/**
 * Resolves once `client` is ready for commands, or rejects with `FST_PERF_REDIS_NOT_READY` after
 * `timeoutMs` or when the client ends. Our clients fail commands at once while they are not ready
 * (no offline queue): this is for startup code and tests that want their first reads answered.
 */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('end', onEnd)
      if (error) reject(error)
      else resolve()
    }
    const onReady = () => done()
    const onEnd = () => done(new FST_PERF_REDIS_NOT_READY(timeoutMs, client.status))
    const timer = setTimeout(onEnd, timeoutMs)
    client.on('ready', onReady)
    client.on('end', onEnd)
  })
}
