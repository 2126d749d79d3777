import type { InvalidationBus } from './bus.js'
import { FST_PERF_CACHE_INVALID_OPTION, FST_PERF_CACHE_INVALID_STORE } from './errors.js'
import {
  type ResolvedRouteOptions,
  type RouteCacheOptions,
  resolveRouteOptions,
} from './route/route-options.js'
import type { Serializer } from './serializer.js'
import { defaultSerializer } from './serializer.js'
import type { CacheStore } from './store.js'
import { type Duration, type Size, toBytes, toMs } from './units.js'

/** Options of `@fastify-perf/cache`. Durations take ms or strings (`'30s'`); sizes take bytes or strings (`'64MB'`). */
export interface FastifyPerfCacheOptions {
  /**
   * Where entries live. A store you pass is yours: the plugin never closes it.
   * @default a `MemoryStore` bounded by `maxSize`, closed with the app
   */
  store?: CacheStore
  /** Bound of the default memory store. Ignored when `store` is given. @default '64MB' */
  maxSize?: Size
  /** Largest entry the default memory store keeps. Ignored when `store` is given. @default maxSize / 4, at most '8MB' */
  maxEntrySize?: Size
  /**
   * Prefix of every key this cache writes, so apps can share one store. Letters, digits, `_`, `-`, `.`.
   * @default 'cache'
   */
  namespace?: string
  /** How long a value stays fresh. @default '1m' */
  ttl?: Duration
  /**
   * After `ttl`, how long a stale value is still returned at once while one background refresh
   * runs (RFC 5861's stale-while-revalidate, for data). `0` turns it off. @default 0
   */
  staleWhileRevalidate?: Duration
  /**
   * After `ttl`, how long the last good value may stand in when the factory throws or times out
   * (grace, RFC 5861's stale-if-error). `0` turns it off. @default 0
   */
  staleIfError?: Duration
  /**
   * Soft timeout of a factory, used only when a stale value can stand in: past it the stale value
   * is returned and the factory finishes in the background. @default undefined (wait)
   */
  timeout?: Duration
  /** Hard timeout of a factory: past it the caller gets the stale value or `FST_PERF_CACHE_FACTORY_TIMEOUT`. @default undefined (wait) */
  hardTimeout?: Duration
  /**
   * After a factory failed and a stale value stood in, how long that stale value keeps being served
   * before the factory is tried again, so a failing database is not hammered. @default '2s'
   */
  graceBackoff?: Duration
  /**
   * Store budget of one operation: every store call made for one `getOrSet` (before its factory
   * runs), `get`, `set`, invalidation or route lookup ends within this time from the operation's
   * start; past it a call counts as a miss (or an unwritten value). Synchronous stores (memory)
   * are never timed. @default '50ms'
   */
  storeTimeout?: Duration
  /**
   * The store's circuit breaker: after `threshold` consecutive failures the store is skipped for
   * `duration`, then one probe decides. `false` turns it off. @default { threshold: 5, duration: '1s' }
   */
  breaker?: false | { threshold?: number; duration?: Duration }
  /** How values are turned into stored bytes and back. @default JSON, with strings and Buffers kept exact */
  serializer?: Serializer
  /** How long the store keeps a tag's version record; entries with that tag older than this become misses. @default '30d' */
  tagTtl?: Duration
  /** Minimum time between two warn logs about a failing store (or deferred invalidations). @default '10s' */
  logInterval?: Duration
  /**
   * Bound of the invalidation debt: how many keys whose invalidation (`delete`, `deleteMany`,
   * `invalidateTags`, a route's URL invalidation) the store did not take are kept, honoured on this
   * instance and replayed when the store answers. Above it the debt becomes one clear of the whole
   * namespace (a new generation of it), and every read of the namespace misses on this instance
   * until the store took it. See docs/failure-modes.md. @default 10000
   */
  maxInvalidationDebt?: number
  /**
   * An in-process memory tier in front of a remote `store`: hot keys are answered from memory, the
   * shared store stays the source of truth. Give it a `bus` (e.g. `RedisBus` from
   * `@fastify-perf/cache-redis`) so writes and invalidations on one instance drop the keys from every
   * other instance's L1 within milliseconds. Without a bus, or while it is down, an L1 entry is
   * trusted for `fallbackTtl` after it was fetched, which bounds how stale another instance's
   * writes can leave it. `false` (or absent): no L1.
   * @default false
   */
  l1?: false | L1Options
  /**
   * Cross-instance stampede protection for `getOrSet` on stores that offer a lock (Redis, Memcached):
   * on a miss, one instance takes the lock and runs the factory; the others wait for its value (up
   * to `lockTimeout`), then fall back to their own call. Per call: `getOrSet(key, fn, { lock: true })`.
   * @default false
   */
  lock?: boolean
  /** How long a `lock` is held at most, and how long other instances wait for its holder's value. @default '5s' */
  lockTimeout?: Duration
  /**
   * The route cache (whole HTTP responses of routes with `config: { cache }`): its plugin-level
   * options. Routes opt in one by one; without `config.cache` a route pays nothing.
   * @example { cacheStatus: true, ignoreQuery: ['utm_*'], maxEntrySize: '1MB' }
   */
  routes?: RouteCacheOptions
}

/** Options of the L1 tier. */
export interface L1Options {
  /** Bound of the in-process tier. @default '32MB' */
  maxSize?: Size
  /** Largest entry kept in L1. @default maxSize / 4, at most '8MB' */
  maxEntrySize?: Size
  /** Carries invalidations between instances. The plugin never closes a bus you pass. */
  bus?: InvalidationBus
  /** How long an L1 entry is trusted while there is no working bus. @default '5s' */
  fallbackTtl?: Duration
}

/** The plugin's options after validation: numbers in ms and bytes, never mutated. */
export interface ResolvedCacheOptions {
  readonly store: CacheStore | undefined
  readonly maxSize: number
  readonly maxEntrySize: number | undefined
  readonly namespace: string
  readonly ttlMs: number
  readonly staleWhileRevalidateMs: number
  readonly staleIfErrorMs: number
  readonly timeoutMs: number | undefined
  readonly hardTimeoutMs: number | undefined
  readonly graceBackoffMs: number
  readonly storeTimeoutMs: number
  readonly breakerThreshold: number
  readonly breakerDurationMs: number
  readonly serializer: Serializer
  readonly tagTtlMs: number
  readonly logIntervalMs: number
  readonly maxInvalidationDebt: number
  readonly l1:
    | false
    | Readonly<{
        maxSize: number
        maxEntrySize: number | undefined
        bus: InvalidationBus | undefined
        fallbackTtlMs: number
      }>
  readonly lock: boolean
  readonly lockTimeoutMs: number
  readonly routes: ResolvedRouteOptions
}

const KNOWN = new Set([
  'store',
  'maxSize',
  'maxEntrySize',
  'namespace',
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'timeout',
  'hardTimeout',
  'graceBackoff',
  'storeTimeout',
  'breaker',
  'serializer',
  'tagTtl',
  'logInterval',
  'maxInvalidationDebt',
  'l1',
  'lock',
  'lockTimeout',
  'routes',
])
const L1_KNOWN = new Set(['maxSize', 'maxEntrySize', 'bus', 'fallbackTtl'])
const BUS_METHODS = ['publish', 'subscribe', 'close'] as const

const STORE_METHODS = ['get', 'getMany', 'set', 'delete', 'deleteMany', 'clear', 'close'] as const
const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/

/** Checks that `store` implements `CacheStore`; throws `FST_PERF_CACHE_INVALID_STORE`. */
export function assertStore(store: unknown): asserts store is CacheStore {
  if (store === null || typeof store !== 'object') throw new FST_PERF_CACHE_INVALID_STORE('not an object')
  const s = store as Record<string, unknown>
  if (typeof s.name !== 'string' || s.name === '') throw new FST_PERF_CACHE_INVALID_STORE('missing `name`')
  for (const method of STORE_METHODS) {
    if (typeof s[method] !== 'function')
      throw new FST_PERF_CACHE_INVALID_STORE(`missing method \`${method}\``)
  }
}

/** Validates a positive duration (> 0). */
export function positiveMs(value: Duration, what: string): number {
  const ms = toMs(value, what)
  if (ms <= 0) throw new FST_PERF_CACHE_INVALID_OPTION(what, 'must be greater than 0')
  return ms
}

function optionalMs(value: Duration | undefined, what: string): number | undefined {
  return value === undefined ? undefined : positiveMs(value, what)
}

/**
 * Applies defaults and validates every field. Pure: returns a new frozen object and never
 * touches `options`. Throws coded TypeErrors (`FST_PERF_CACHE_INVALID_*`).
 */
export function resolveOptions(options: FastifyPerfCacheOptions = {}): ResolvedCacheOptions {
  if (options === null || typeof options !== 'object') {
    throw new FST_PERF_CACHE_INVALID_OPTION('options', 'must be an object')
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new FST_PERF_CACHE_INVALID_OPTION(key, 'unknown option')
  }
  if (options.store !== undefined) assertStore(options.store)

  const namespace = options.namespace ?? 'cache'
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new FST_PERF_CACHE_INVALID_OPTION('namespace', 'use 1 to 64 letters, digits, "_", "-" or "."')
  }

  const breaker = options.breaker ?? {}
  if (breaker !== false && (breaker === null || typeof breaker !== 'object')) {
    throw new FST_PERF_CACHE_INVALID_OPTION('breaker', 'must be false or { threshold, duration }')
  }
  const threshold = breaker === false ? 0 : (breaker.threshold ?? 5)
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new FST_PERF_CACHE_INVALID_OPTION('breaker.threshold', 'must be a whole number >= 0')
  }

  const serializer = options.serializer ?? defaultSerializer
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw new FST_PERF_CACHE_INVALID_OPTION('serializer', 'must have serialize() and deserialize()')
  }

  const maxSize = toBytes(options.maxSize ?? '64MB', 'maxSize')
  if (maxSize < 1024) throw new FST_PERF_CACHE_INVALID_OPTION('maxSize', 'must be at least 1KB')
  const maxEntrySize =
    options.maxEntrySize === undefined ? undefined : toBytes(options.maxEntrySize, 'maxEntrySize')
  if (maxEntrySize !== undefined && (maxEntrySize < 1 || maxEntrySize > maxSize)) {
    throw new FST_PERF_CACHE_INVALID_OPTION('maxEntrySize', 'must be between 1 byte and maxSize')
  }

  const storeTimeoutMs = positiveMs(options.storeTimeout ?? '50ms', 'storeTimeout')
  const maxInvalidationDebt = options.maxInvalidationDebt ?? 10_000
  if (!Number.isSafeInteger(maxInvalidationDebt) || maxInvalidationDebt < 1) {
    throw new FST_PERF_CACHE_INVALID_OPTION('maxInvalidationDebt', 'must be a whole number >= 1')
  }
  if (options.lock !== undefined && typeof options.lock !== 'boolean') {
    throw new FST_PERF_CACHE_INVALID_OPTION('lock', 'must be a boolean')
  }
  return Object.freeze({
    store: options.store,
    maxSize,
    maxEntrySize,
    namespace,
    ttlMs: positiveMs(options.ttl ?? '1m', 'ttl'),
    staleWhileRevalidateMs: toMs(options.staleWhileRevalidate ?? 0, 'staleWhileRevalidate'),
    staleIfErrorMs: toMs(options.staleIfError ?? 0, 'staleIfError'),
    timeoutMs: optionalMs(options.timeout, 'timeout'),
    hardTimeoutMs: optionalMs(options.hardTimeout, 'hardTimeout'),
    graceBackoffMs: toMs(options.graceBackoff ?? '2s', 'graceBackoff'),
    storeTimeoutMs,
    breakerThreshold: threshold,
    breakerDurationMs: breaker === false ? 0 : positiveMs(breaker.duration ?? '1s', 'breaker.duration'),
    serializer,
    tagTtlMs: positiveMs(options.tagTtl ?? '30d', 'tagTtl'),
    logIntervalMs: toMs(options.logInterval ?? '10s', 'logInterval'),
    maxInvalidationDebt,
    l1: resolveL1(options.l1),
    lock: options.lock ?? false,
    lockTimeoutMs: positiveMs(options.lockTimeout ?? '5s', 'lockTimeout'),
    routes: resolveRouteOptions(options.routes),
  })
}

function resolveL1(l1: FastifyPerfCacheOptions['l1']): ResolvedCacheOptions['l1'] {
  if (l1 === undefined || l1 === false) return false
  if (l1 === null || typeof l1 !== 'object')
    throw new FST_PERF_CACHE_INVALID_OPTION('l1', 'must be false or { maxSize, bus, fallbackTtl }')
  for (const key of Object.keys(l1)) {
    if (!L1_KNOWN.has(key)) throw new FST_PERF_CACHE_INVALID_OPTION(`l1.${key}`, 'unknown option')
  }
  if (l1.bus !== undefined) {
    const bus = l1.bus as unknown as Record<string, unknown>
    if (bus === null || typeof bus !== 'object' || BUS_METHODS.some((m) => typeof bus[m] !== 'function')) {
      throw new FST_PERF_CACHE_INVALID_OPTION(
        'l1.bus',
        'must implement InvalidationBus (publish, subscribe, close)',
      )
    }
  }
  const maxSize = toBytes(l1.maxSize ?? '32MB', 'l1.maxSize')
  if (maxSize < 1024) throw new FST_PERF_CACHE_INVALID_OPTION('l1.maxSize', 'must be at least 1KB')
  const maxEntrySize = l1.maxEntrySize === undefined ? undefined : toBytes(l1.maxEntrySize, 'l1.maxEntrySize')
  if (maxEntrySize !== undefined && (maxEntrySize < 1 || maxEntrySize > maxSize)) {
    throw new FST_PERF_CACHE_INVALID_OPTION('l1.maxEntrySize', 'must be between 1 byte and l1.maxSize')
  }
  return Object.freeze({
    maxSize,
    maxEntrySize,
    bus: l1.bus,
    fallbackTtlMs: positiveMs(l1.fallbackTtl ?? '5s', 'l1.fallbackTtl'),
  })
}
