import { randomUUID } from 'node:crypto'
import type { BusMessage, InvalidationBus } from '@fastify-perf/cache'
import type { RedisOptions } from 'ioredis'
import type { RedisClusterClient, RedisNodeClient } from './client.js'
import { type Connection, closeClient, countErrors, openConnection, type RedisClient } from './connection.js'
import { type RedisBusOptions, reconnectDelay, resolveBusOptions } from './options.js'

/** One `subscribe()` call: its callbacks and what it was last told. */
interface Listener {
  readonly onMessage: (message: BusMessage) => void
  readonly onStatus: (up: boolean) => void
  /** Its channel's SUBSCRIBE was acknowledged (it may be told "up"). */
  subscribed: boolean
  /** The status it was last told; every listener starts down, as the contract says. */
  up: boolean
  /** Resolves the `subscribe()` call waiting for the first "up". */
  resolveUp: (() => void) | undefined
}

// The subscriber connection is ours alone and carries only SUBSCRIBE and messages, so it gets
// the opposite of the store's fail-fast settings: SUBSCRIBE may wait for the connection (an
// offline queue of a few commands), nothing times out (a subscribed socket is silent by design;
// the heartbeat watches it instead), and it reconnects and resubscribes by itself for ever.
const SUBSCRIBER_OPTIONS: Partial<RedisOptions> = {
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResubscribe: true,
  autoResendUnfulfilledCommands: true,
  commandTimeout: undefined,
  socketTimeout: undefined,
  enableAutoPipelining: false,
  lazyConnect: false,
  retryStrategy: reconnectDelay,
}

/**
 * An `InvalidationBus` on Redis pub/sub, for `@fastify-perf/cache`'s L1 tier: every instance
 * publishes the keys it wrote or invalidated, and every other instance drops them from its L1.
 *
 * Publishes with the client you give (or one it creates) and subscribes with a duplicate
 * connection it owns. Messages are JSON `BusMessage`s; publishing never throws and failures are
 * only counted (`publishErrors`), since the engine bounds what a lost message costs with its
 * fallback TTL.
 *
 * Health is what matters: the bus reports itself down (`onStatus(false)`) as soon as its
 * subscriber connection closes, and also when its own heartbeat (a ping published to itself every
 * `heartbeatInterval` on a channel of its own) has not come back for 3 intervals, which catches a
 * frozen server whose sockets stay open. It reports up again once a ping comes back through the
 * resubscribed connection.
 *
 * @example
 * import fastifyPerfCache from '@fastify-perf/cache'
 * import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
 *
 * const url = 'redis://127.0.0.1:6379'
 * await app.register(fastifyPerfCache, {
 *   store: new RedisStore({ url }),
 *   l1: { maxSize: '32MB', bus: new RedisBus({ url }) },
 * })
 */
export class RedisBus implements InvalidationBus {
  readonly name = 'redis'
  readonly #intervalMs: number
  readonly #publisher: Connection
  readonly #channels = new Map<string, Listener[]>()
  // A channel per bus instance, so that N instances do not each receive N pings per interval.
  readonly #heartbeatChannel = `fastify-perf:bus-heartbeat:${randomUUID()}`
  readonly #subscriberErrors = { count: 0 }
  #subscriber: RedisClient | undefined
  #pinger: NodeJS.Timeout | undefined
  #watchdog: NodeJS.Timeout | undefined
  #up = false
  #closed = false
  #closing: Promise<void> | undefined
  /** Messages (heartbeats included) that failed to publish. */
  publishErrors = 0
  /** Received messages that were not a `BusMessage`, or whose handler threw. */
  badMessages = 0

  constructor(options: RedisBusOptions) {
    const resolved = resolveBusOptions(options)
    this.#intervalMs = resolved.heartbeatIntervalMs
    this.#publisher = openConnection(resolved.connection)
  }

  /** Whether the bus is up: subscribed, and its heartbeat came back within 3 intervals. */
  get up(): boolean {
    return this.#up
  }

  /** Connection errors ioredis reported on the connections the bus created. */
  get connectionErrors(): number {
    return this.#publisher.errors.count + this.#subscriberErrors.count
  }

  /** Sends `message` to every instance subscribed to `channel`. Never throws; fire and forget. */
  publish(channel: string, message: BusMessage): void {
    if (this.#closed) return
    this.#publisher.client.publish(channel, JSON.stringify(message)).catch(this.#publishFailed)
  }

  /**
   * Starts listening on `channel`. Resolves once the bus is up for this channel, or after
   * 3 heartbeat intervals if it is not (never rejects, never waits for a Redis that is down:
   * `onStatus(true)` tells when it comes up).
   */
  subscribe(
    channel: string,
    onMessage: (message: BusMessage) => void,
    onStatus: (up: boolean) => void,
  ): Promise<void> {
    if (this.#closed) return Promise.resolve()
    const listener: Listener = { onMessage, onStatus, subscribed: false, up: false, resolveUp: undefined }
    let listeners = this.#channels.get(channel)
    if (listeners === undefined) {
      listeners = []
      this.#channels.set(channel, listeners)
    }
    listeners.push(listener)
    const subscriber = this.#startSubscriber()
    const subscribed = () => {
      listener.subscribed = true
      if (this.#up) this.#tell(listener, true)
    }
    this.#subscribe(subscriber, channel, subscribed)
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3 * this.#intervalMs)
      listener.resolveUp = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** Stops the heartbeat, closes the subscriber connection, and the publisher if the bus created it. Safe to call twice. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    clearInterval(this.#pinger)
    clearTimeout(this.#watchdog)
    for (const listeners of this.#channels.values()) for (const l of listeners) l.resolveUp?.()
    this.#channels.clear()
    this.#up = false
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    // The subscriber only listens: dropping its socket loses nothing.
    subscriber?.disconnect()
    this.#closing = this.#publisher.owned ? closeClient(this.#publisher.client) : Promise.resolve()
    return this.#closing
  }

  /** SUBSCRIBEs, retrying every interval if the command itself fails, until the bus closes. */
  #subscribe(subscriber: RedisClient, channel: string, done: () => void): void {
    subscriber.subscribe(channel).then(
      () => {
        if (!this.#closed) done()
      },
      () => {
        if (this.#closed) return
        setTimeout(() => {
          if (!this.#closed && this.#subscriber === subscriber) this.#subscribe(subscriber, channel, done)
        }, this.#intervalMs).unref()
      },
    )
  }

  /** Creates the subscriber connection and the heartbeat on first use. */
  #startSubscriber(): RedisClient {
    if (this.#subscriber) return this.#subscriber
    const publisher = this.#publisher.client
    const subscriber = publisher.isCluster
      ? (publisher as RedisClusterClient).duplicate(
          [],
          clusterSubscriberOptions(publisher as RedisClusterClient),
        )
      : (publisher as RedisNodeClient).duplicate(SUBSCRIBER_OPTIONS)
    this.#subscriber = subscriber
    countErrors(subscriber, this.#subscriberErrors)
    subscriber.on('message', (channel: string, text: string) => this.#receive(channel, text))
    // A lost connection means lost messages: down at once, not after the heartbeat misses.
    subscriber.on('close', () => this.#setUp(false))
    subscriber.on('end', () => this.#setUp(false))
    // Reconnected: ping now rather than at the next interval, to come back up sooner.
    subscriber.on('ready', () => this.#ping())

    this.#subscribe(subscriber, this.#heartbeatChannel, () => this.#ping())
    this.#pinger = setInterval(() => this.#ping(), this.#intervalMs)
    this.#pinger.unref()
    // Re-armed by every ping that comes back; fires when none did for 3 intervals.
    this.#watchdog = setTimeout(() => this.#setUp(false), 3 * this.#intervalMs)
    this.#watchdog.unref()
    return subscriber
  }

  #ping(): void {
    if (this.#closed) return
    this.#publisher.client.publish(this.#heartbeatChannel, '1').catch(this.#publishFailed)
  }

  #publishFailed = () => {
    this.publishErrors++
  }

  #receive(channel: string, text: string): void {
    if (channel === this.#heartbeatChannel) {
      this.#watchdog?.refresh()
      if (this.#subscriber?.status === 'ready') this.#setUp(true)
      return
    }
    const listeners = this.#channels.get(channel)
    if (listeners === undefined) return
    let message: BusMessage
    try {
      message = JSON.parse(text)
    } catch {
      this.badMessages++
      return
    }
    if (message === null || typeof message !== 'object' || typeof message.origin !== 'string') {
      this.badMessages++
      return
    }
    for (const listener of listeners) {
      // A throwing handler must not reach ioredis: this runs inside its reply parser.
      try {
        listener.onMessage(message)
      } catch {
        this.badMessages++
      }
    }
  }

  #setUp(up: boolean): void {
    if (this.#closed || up === this.#up) return
    this.#up = up
    for (const listeners of this.#channels.values()) {
      for (const listener of listeners) if (listener.subscribed) this.#tell(listener, up)
    }
  }

  #tell(listener: Listener, up: boolean): void {
    if (listener.up === up) return
    listener.up = up
    try {
      listener.onStatus(up)
    } catch {
      this.badMessages++
    }
    if (up) {
      listener.resolveUp?.()
      listener.resolveUp = undefined
    }
  }
}

function clusterSubscriberOptions(cluster: RedisClusterClient): Record<string, unknown> {
  const { retryStrategy, ...node } = SUBSCRIBER_OPTIONS
  return {
    enableOfflineQueue: true,
    lazyConnect: false,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: { ...cluster.options.redisOptions, ...node },
  }
}
