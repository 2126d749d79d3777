import type { MaybePromise } from './store.js'

/**
 * What travels between instances to keep their in-process L1 tiers consistent: which keys to
 * drop, never values. Each instance then reads the new value from the shared store on its next miss.
 */
export interface BusMessage {
  /** The sending instance; receivers ignore their own messages. */
  readonly origin: string
  /** Full store keys (namespaced) to drop from L1: written, deleted, or a tag's version records. */
  readonly keys?: readonly string[]
  /** Drop every L1 key starting with this prefix (a `clear()` on another instance). */
  readonly clearPrefix?: string
}

/**
 * A channel between instances that share a store, such as Redis pub/sub (`RedisBus` in
 * `@fastify-perf/cache-redis`). The engine publishes after each write, delete, invalidation and
 * clear, and drops the keys it receives from its L1.
 *
 * Health matters as much as delivery: a bus that is down (connection lost, server frozen, heartbeat
 * missed) must say so through `onStatus(false)`, because the engine then stops trusting L1 entries
 * older than `l1.fallbackTtl`, and clears L1 when `onStatus(true)` says the bus is back (messages
 * sent meanwhile are lost).
 */
export interface InvalidationBus {
  /** A short name for logs. */
  readonly name: string
  /** Sends a message to every other subscribed instance. Failures are the bus's to log; never throws. */
  publish(channel: string, message: BusMessage): MaybePromise<void>
  /**
   * Starts listening on `channel`. `onMessage` gets messages from other instances (the bus may
   * deliver the sender's own too; the engine ignores those). `onStatus` reports the bus going
   * down (`false`) and coming back (`true`); the bus starts as down until it is subscribed.
   */
  subscribe(
    channel: string,
    onMessage: (message: BusMessage) => void,
    onStatus: (up: boolean) => void,
  ): MaybePromise<void>
  /** Stops listening and closes what the bus created. Safe to call twice. */
  close(): MaybePromise<void>
}
