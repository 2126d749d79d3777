import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis'
import type { RedisClient } from './client.js'
import { FST_PERF_REDIS_INVALID_OPTION } from './errors.js'
import { isWellFormed } from './keys.js'

/**
 * Where the store (or bus) gets its Redis connection. Give exactly one of:
 * - `client`: an ioredis `Redis` or `Cluster` you created, of ioredis 5 or 6 (Sentinel too: a
 *   `Redis` with `sentinels`). It is yours: `close()` never closes it, and its settings are used
 *   as they are; see {@link safeRedisOptions} for the ones we recommend.
 * - `url` and/or `redis`: a `Redis` the store creates with {@link safeRedisOptions}, your `redis`
 *   options on top, and closes on `close()`.
 * - `cluster`: a `Cluster` the store creates with {@link safeClusterOptions}, your options on top,
 *   and closes on `close()`.
 */
export interface RedisConnectionOptions {
  /** An ioredis `Redis` or `Cluster` instance, of ioredis 5 or 6; never closed by us. */
  client?: RedisClient
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). */
  url?: string
  /** ioredis `RedisOptions` (host, port, password, tls, sentinels, …), applied over our defaults. */
  redis?: RedisOptions
  /** A Redis Cluster: its startup nodes and ioredis `ClusterOptions`, applied over our defaults. */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions }
}

/** Options of `new RedisStore()`: a connection ({@link RedisConnectionOptions}) and a key prefix. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key the store writes, reads, scans and deletes, so several apps can share
   * one Redis. `clear()` only ever touches keys under it. Use this rather than ioredis's
   * `keyPrefix`, which `SCAN` does not honour (a client with `keyPrefix` is refused). A prefix with
   * a lone surrogate is refused (keys are escaped around them, see docs/stores.md).
   * @default 'fp:'
   */
  prefix?: string
}

/** Options of `new RedisBus()`: a connection ({@link RedisConnectionOptions}) and the heartbeat. */
export interface RedisBusOptions extends RedisConnectionOptions {
  /**
   * How often the bus publishes a ping to itself, in ms. The bus reports itself down when no ping
   * came back for 3 intervals, which is how a frozen (SIGSTOPped) server, whose sockets stay
   * open, is noticed.
   * @default 500
   */
  heartbeatInterval?: number
}

/** How to reach Redis, resolved. */
export type ResolvedConnection =
  | Readonly<{ kind: 'client'; client: RedisClient }>
  | Readonly<{ kind: 'redis'; url: string | undefined; options: RedisOptions }>
  | Readonly<{ kind: 'cluster'; nodes: readonly ClusterNode[]; options: ClusterOptions }>

/** The validated, frozen form of {@link RedisStoreOptions}. */
export interface ResolvedRedisStoreOptions {
  readonly connection: ResolvedConnection
  readonly prefix: string
}

/** The validated, frozen form of {@link RedisBusOptions}. */
export interface ResolvedRedisBusOptions {
  readonly connection: ResolvedConnection
  readonly heartbeatIntervalMs: number
}

/**
 * What {@link safeRedisOptions} returns. Its own type, not ioredis's `RedisOptions`: those of
 * ioredis 5 and 6 are distinct types, and these settings are spread into a client of either
 * (`protocol` is an ioredis 6 option; ioredis 5, which speaks RESP2 only, ignores it).
 */
export interface SafeRedisOptions {
  protocol: 2
  enableOfflineQueue: boolean
  maxRetriesPerRequest: number
  autoResendUnfulfilledCommands: boolean
  commandTimeout: number
  connectTimeout: number
  keepAlive: number
  retryStrategy: (times: number) => number
  enableAutoPipelining: boolean
}

/** What {@link safeClusterOptions} returns: the settings of a `Cluster`, for ioredis 5 or 6. */
export interface SafeClusterOptions {
  enableOfflineQueue: boolean
  enableAutoPipelining: boolean
  clusterRetryStrategy: (times: number) => number
  redisOptions: Omit<SafeRedisOptions, 'enableOfflineQueue' | 'retryStrategy' | 'enableAutoPipelining'>
}

/**
 * The ioredis settings a client we create gets, so that nothing waits forever on a Redis that is
 * down, frozen or unreachable (measurements in this package's README).
 * The engine's own per-operation deadline (`storeTimeout`, 50 ms) and circuit breaker come on top;
 * these make sure the client itself never queues or retries a command for longer than a second,
 * so nothing piles up behind the engine's back either.
 *
 * Returns a new object each time: spread it under your own options when you create the client
 * yourself (`new Redis({ ...safeRedisOptions(), sentinels, name })`).
 */
export function safeRedisOptions(): SafeRedisOptions {
  return {
    // RESP2, as ioredis 5 speaks, rather than ioredis 6's default RESP3. Nothing here needs RESP3,
    // and RESP3 brings two ways to wait longer than the settings below say: a server or proxy
    // that answers `HELLO 3` with an error other than "unknown command" fails every connection
    // attempt (no RESP2 fallback then), and on a server sending maintenance notifications (Redis
    // Cloud / Enterprise) ioredis 6 stretches `commandTimeout` to `maintRelaxedCommandTimeout`
    // (10 s) during maintenance. With RESP2 the replies are the same shapes on both majors.
    protocol: 2,
    // While disconnected, fail a command at once (a miss) instead of queueing it until the
    // connection is back: with the queue on, a GET against a dead Redis waited 10 s (ioredis 5) to
    // 73 s (ioredis 6) before failing, and the queue grows without bound meanwhile.
    enableOfflineQueue: false,
    // Commands in flight when the connection drops are failed at the first reconnection attempt
    // and never resent: a cache read answered a minute late is useless, and a resent SET could
    // land after a newer one.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // A frozen (SIGSTOPped) or blackholed server accepts writes and never answers: only a
    // command timeout ends those commands. 1 s is a backstop for the client's own queue; the
    // engine gives up on the caller's behalf after `storeTimeout` already.
    commandTimeout: 1000,
    // Deliberately no `socketTimeout`: in ioredis 5.11.1 (fixed in 6.0, but these settings are
    // for an ioredis 5 client too) its timer survives the socket it was
    // armed for, and when that socket died with a command pending (a crash), it fires on the
    // *new* connection seconds after the reconnect and destroys it (measured: a healthy
    // connection dropped 1.8 s after recovery). Hung commands end by `commandTimeout` instead.
    connectTimeout: 2000,
    keepAlive: 10_000,
    // Reconnect for ever, quickly: 50, 100, … capped at 500 ms. A refused connection costs
    // nothing, and the cap bounds how long after Redis is back the client notices (the engine's
    // breaker adds up to its own 1 s): kill-and-restart outages resumed in under 1.5 s.
    retryStrategy: reconnectDelay,
    // Commands issued in the same tick go out in one write: +7 to +20 % throughput at saturation
    // (docs/benchmarks.md), and MGETs split per hash slot on Cluster become one pipeline per node.
    enableAutoPipelining: true,
  }
}

/**
 * The `ClusterOptions` a Cluster we create gets: the same guarantees as {@link safeRedisOptions}.
 * `enableOfflineQueue` must be set at the top level: ioredis ignores it inside `redisOptions`
 * (its node connections always queue), and `retryStrategy` there is replaced by
 * `clusterRetryStrategy`.
 */
export function safeClusterOptions(): SafeClusterOptions {
  const { enableOfflineQueue, retryStrategy, enableAutoPipelining, ...node } = safeRedisOptions()
  return {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: node,
  }
}

/** Reconnection delay after the `times`-th failed attempt: 50, 100, 150, … ms, capped at 500 ms, never giving up. */
export function reconnectDelay(times: number): number {
  return Math.min(times * 50, 500)
}

const STORE_KEYS: ReadonlySet<string> = new Set(['client', 'url', 'redis', 'cluster', 'prefix'])
const BUS_KEYS: ReadonlySet<string> = new Set(['client', 'url', 'redis', 'cluster', 'heartbeatInterval'])

/**
 * Validates the options of `new RedisStore()` and returns a new frozen object with defaults
 * applied. Pure: never mutates `options` and opens no connection. Throws
 * `FST_PERF_REDIS_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  assertObject(options, 'options')
  assertKnown(options, STORE_KEYS)
  const prefix = options.prefix ?? 'fp:'
  if (typeof prefix !== 'string') {
    throw new FST_PERF_REDIS_INVALID_OPTION(`prefix must be a string, got ${describe(prefix)}`)
  }
  // Keys are escaped as a whole (keys.ts). A well-formed prefix is escaped the same way at the
  // start of every key, so `clear()` can scan for it; one ending in half a pair would not be.
  if (!isWellFormed(prefix)) {
    throw new FST_PERF_REDIS_INVALID_OPTION('prefix must be well-formed UTF-16 (it has a lone surrogate)')
  }
  return Object.freeze({ connection: resolveConnection(options), prefix })
}

/**
 * Validates the options of `new RedisBus()`, like {@link resolveOptions}.
 * Throws `FST_PERF_REDIS_INVALID_OPTION` (a `TypeError`).
 */
export function resolveBusOptions(options: RedisBusOptions): ResolvedRedisBusOptions {
  assertObject(options, 'options')
  assertKnown(options, BUS_KEYS)
  const interval = options.heartbeatInterval ?? 500
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 10) {
    throw new FST_PERF_REDIS_INVALID_OPTION(
      `heartbeatInterval must be a number of ms >= 10, got ${describe(interval)}`,
    )
  }
  return Object.freeze({ connection: resolveConnection(options), heartbeatIntervalMs: interval })
}

function resolveConnection(options: RedisConnectionOptions): ResolvedConnection {
  const { client, url, redis, cluster } = options
  const given = [client, url ?? redis, cluster].filter((source) => source !== undefined).length
  if (given !== 1) {
    throw new FST_PERF_REDIS_INVALID_OPTION(
      given === 0
        ? 'give one of client, url (optionally with redis), redis or cluster'
        : 'client, url/redis and cluster are exclusive: give one of them',
    )
  }

  if (client !== undefined) {
    const c = client as unknown as Record<string, unknown>
    if (
      c === null ||
      typeof c !== 'object' ||
      typeof c.getBuffer !== 'function' ||
      typeof c.mgetBuffer !== 'function' ||
      typeof c.isCluster !== 'boolean'
    ) {
      throw new FST_PERF_REDIS_INVALID_OPTION('client must be an ioredis Redis or Cluster instance')
    }
    const clientOptions = c.options as
      | { keyPrefix?: string; redisOptions?: { keyPrefix?: string } }
      | undefined
    if (clientOptions?.keyPrefix || clientOptions?.redisOptions?.keyPrefix) {
      throw new FST_PERF_REDIS_INVALID_OPTION(
        'client has an ioredis keyPrefix, which SCAN does not honour: use the prefix option instead',
      )
    }
    return Object.freeze({ kind: 'client', client })
  }

  if (cluster !== undefined) {
    assertObject(cluster, 'cluster')
    for (const key of Object.keys(cluster)) {
      if (key !== 'nodes' && key !== 'options') {
        throw new FST_PERF_REDIS_INVALID_OPTION(`unknown option "cluster.${key}"`)
      }
    }
    const { nodes, options: clusterOptions = {} } = cluster
    if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every(isClusterNode)) {
      throw new FST_PERF_REDIS_INVALID_OPTION(
        'cluster.nodes must be a non-empty array of "host:port" strings, ports or { host, port }',
      )
    }
    assertObject(clusterOptions, 'cluster.options')
    if (clusterOptions.keyPrefix || clusterOptions.redisOptions?.keyPrefix) {
      throw new FST_PERF_REDIS_INVALID_OPTION(
        'cluster.options.keyPrefix is not supported (SCAN does not honour it): use the prefix option',
      )
    }
    const safe = safeClusterOptions()
    return Object.freeze({
      kind: 'cluster',
      nodes: Object.freeze([...nodes]),
      options: {
        ...safe,
        ...clusterOptions,
        redisOptions: { ...safe.redisOptions, ...clusterOptions.redisOptions },
      },
    })
  }

  if (url !== undefined) {
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url) || !URL.canParse(url)) {
      // The value is not echoed: a URL may carry a password.
      throw new FST_PERF_REDIS_INVALID_OPTION(
        `url must be a redis:// or rediss:// URL, got ${typeof url === 'string' ? 'another string' : describe(url)}`,
      )
    }
  }
  if (redis !== undefined) {
    assertObject(redis, 'redis')
    if (redis.keyPrefix) {
      throw new FST_PERF_REDIS_INVALID_OPTION(
        'redis.keyPrefix is not supported (SCAN does not honour it): use the prefix option',
      )
    }
  }
  return Object.freeze({ kind: 'redis', url, options: { ...safeRedisOptions(), ...redis } })
}

function isClusterNode(node: unknown): boolean {
  if (typeof node === 'string') return node.length > 0
  if (typeof node === 'number') return Number.isInteger(node) && node > 0 && node < 65536
  return node !== null && typeof node === 'object' && !Array.isArray(node)
}

function assertObject(value: unknown, what: string): asserts value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FST_PERF_REDIS_INVALID_OPTION(`${what} must be an object, got ${describe(value)}`)
  }
}

function assertKnown(options: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new FST_PERF_REDIS_INVALID_OPTION(`unknown option "${key}"`)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
  if (typeof value === 'number') return String(value)
  return typeof value
}
