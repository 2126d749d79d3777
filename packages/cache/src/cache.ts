import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheLookupEvent, channels } from './channels.js'
import {
  FST_PERF_CACHE_FACTORY_TIMEOUT,
  FST_PERF_CACHE_INVALID_KEY,
  FST_PERF_CACHE_INVALID_OPTION,
  FST_PERF_CACHE_UNDEFINED_VALUE,
} from './errors.js'
import type { DebtStats } from './invalidation-debt.js'
import { MemoryStore } from './memory-store.js'
import type { ResolvedCacheOptions } from './options.js'
import { positiveMs } from './options.js'
import { isPromise, type MaybePromise, type StoredEntry, type StoreLock } from './store.js'
import type { Tiers } from './tiers.js'
import { type Duration, toMs } from './units.js'

/**
 * @internal The route cache's access to the engine (see `route/route-cache.ts`): the same tiers
 * (L1, bus, safe-store wrapper with its deadline and breaker), the same tag versions and the same
 * cross-instance lock, so route entries behave like data entries in every respect that matters.
 */
export const kRouteBackend = Symbol('fastify-perf.cache.routeBackend')

/**
 * @internal What {@link kRouteBackend} hands the route cache.
 *
 * Every store method takes an optional last `deadline` (a `performance.now()` time): the budget of
 * the lookup or invalidation it belongs to. Take one with `deadline()` at the start of a request's
 * lookup and hand it to each of its store calls, so a failing store costs the request at most
 * `storeTimeout` in all (see `SafeStore`). Without one, each call gets `storeTimeout` of its own.
 */
export interface RouteBackend {
  /** Prefix of route entries and vary records: `<namespace>:r:`. */
  readonly prefix: string
  /** The store's name (as on the channels' `store` field). */
  readonly storeName: string
  /** Whether the cache was closed: the route cache then stays out of the way. */
  closed(): boolean
  /** Whether a write may reach the store now (breaker not open, cache not closed): a response may be announced `stored`. */
  storeUp(): boolean
  /** `performance.now() + storeTimeout`: the budget of one lookup or invalidation. */
  deadline(): number
  /**
   * The store call a read that just answered with a Promise went out as (or joined): its
   * `deadline` is the budget the rest of that lookup shares. Read lazily, so a remote hit pays no
   * clock read for a budget it never uses (the same as `getOrSet`, see `SafeStore#lastCall`).
   */
  lastRead(): { readonly deadline: number }
  get(key: string, deadline?: number): MaybePromise<StoredEntry | undefined>
  /**
   * A synchronous read that never starts a remote one: an L1 hit, or the memory store's entry when
   * it is the store; `undefined` otherwise (see `Tiers#peek`). The edge path's only read.
   */
  peek(key: string): StoredEntry | undefined
  /** Whether `peek` can find anything: the store is the memory store, or there is an L1. */
  readonly peekable: boolean
  /** Reads several entries; one slot per key, `undefined` when absent (or failed). */
  getMany(keys: readonly string[], deadline?: number): MaybePromise<ReadonlyArray<StoredEntry | undefined>>
  /** Writes an entry the route cache built (timestamps included); `false` when it did not reach the store. */
  set(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean>
  /**
   * Writes the entry only if the key holds none: `true` written, `false` the key exists,
   * `undefined` no answer (the store has no `add`, or failed). See `CacheStore.add`.
   */
  add(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean | undefined>
  /**
   * Deletes entries on every instance; `false` when the store did not take it now: the delete is
   * then kept as a debt, honoured by this instance at once and replayed when the store answers.
   */
  deleteMany(keys: readonly string[], deadline?: number): MaybePromise<boolean>
  /** The entry's tags: 0 valid, 1 soft-invalidated (stale), 2 hard-invalidated (dead). */
  tagState(entry: StoredEntry, deadline?: number): MaybePromise<number>
  /** Current versions of `tags` (hard, soft per tag), to store with an entry. */
  tagVersions(tags: readonly string[], deadline?: number): Promise<readonly string[]>
  /** Validates tags like `getOrSet` does; throws `FST_PERF_CACHE_INVALID_OPTION`. */
  assertTags(tags: readonly string[]): readonly string[]
  /**
   * Takes the store lock `<namespace>:rl:<key>`, or waits while another instance holds it, probing
   * for that instance's result; see `getOrSet({ lock: true })`. The first attempt uses `deadline`
   * (a new budget without one); each later round of probe and attempt gets a budget of its own,
   * which `probe` is handed.
   */
  lockOrWait<T>(
    key: string,
    timeoutMs: number,
    probe: (deadline: number) => Promise<T | undefined>,
    deadline?: number,
  ): Promise<{ lock: StoreLock | undefined; found: T | undefined }>
  unlock(lock: StoreLock): void
  /** Keeps a background task alive across `close()` (up to its wait). */
  track(promise: Promise<unknown>): void
  /**
   * Memory for an entry value about to be stored: from the memory store that will hold the entry
   * object (the store itself, or L1), which keeps such values in shared chunks (see slabs.ts);
   * otherwise a Buffer of its own.
   */
  allocate(size: number): Buffer
  /** Calls `listener` for each entry whose value that memory store moved (see `MemoryStore.onRelocate`). */
  onRelocate(listener: (entry: StoredEntry) => void): void
}

/** Per-call options of `set`. Each falls back to the plugin option of the same name. */
export interface SetOptions {
  /** How long the value stays fresh. */
  ttl?: Duration
  /** Stale window served while one background refresh runs (only `getOrSet` refreshes). */
  staleWhileRevalidate?: Duration
  /** Grace window: how long the value may stand in for a failing or slow factory. */
  staleIfError?: Duration
  /** Tags for `invalidateTags`. */
  tags?: readonly string[]
}

/** Per-call options of `getOrSet`. Each falls back to the plugin option of the same name. */
export interface GetOrSetOptions extends SetOptions {
  /** Soft timeout: past it a stale value (if any) is returned and the factory finishes in the background. */
  timeout?: Duration
  /** Hard timeout: past it the stale value, or `FST_PERF_CACHE_FACTORY_TIMEOUT`. */
  hardTimeout?: Duration
  /** Run the factory and return its result without reading or writing the cache. */
  skip?: boolean
  /** Ignore what is stored: run the factory (shared with concurrent callers) and store its result. */
  forceFresh?: boolean
  /** Take the store's cross-instance lock on a miss, so one instance in the fleet runs the factory. */
  lock?: boolean
  /** How long the lock is held at most, and how long others wait for its holder's value. */
  lockTimeout?: Duration
}

/** What a factory receives. */
export interface FactoryContext<T> {
  /** The key, as given to `getOrSet`. */
  readonly key: string
  /** The stale value being replaced, when one exists (for conditional refreshes). */
  readonly stale: T | undefined
  /** Changes the freshness of the value this factory returns, e.g. from an upstream `max-age`. */
  setTtl(ttl: Duration): void
}

/** Options of `get`. */
export interface GetOptions {
  /** Also return a stale value (within its stale-while-revalidate or grace window). @default false */
  allowStale?: boolean
}

/** Options of `invalidateTags`. */
export interface InvalidateOptions {
  /**
   * `'delete'`: tagged entries become misses, with no grace. `'expire'`: tagged entries become
   * stale, so stale-while-revalidate and grace may still serve them while they refresh.
   * @default 'delete'
   */
  mode?: 'delete' | 'expire'
}

/**
 * What `delete`, `deleteMany`, `invalidateTags` and `clear` resolve to.
 * - `applied`: the store took the invalidation; every instance sees it.
 * - `deferred`: the store did not take it now (it failed, did not answer within `storeTimeout`,
 *   or its breaker is open). It is kept as a debt: this instance treats what it invalidated as
 *   invalid at once, and replays it until the store takes it, which every instance then sees.
 *   After `close()`, calls resolve `deferred` and nothing is replayed. See docs/failure-modes.md.
 */
export interface InvalidationResult {
  readonly status: 'applied' | 'deferred'
}

const APPLIED: InvalidationResult = Object.freeze({ status: 'applied' })
const DEFERRED: InvalidationResult = Object.freeze({ status: 'deferred' })

/** Counters since the app started. */
export interface CacheStats {
  hits: number
  misses: number
  /** Stale values returned (while revalidating, or standing in for a failing factory). */
  stale: number
  /** Callers that joined a factory call already running for their key. */
  coalesced: number
  sets: number
  deletes: number
  invalidations: number
  /** Factory calls that threw or passed their hard timeout. */
  factoryErrors: number
  /** Factory calls running now (foreground and background). */
  loading: number
  store: {
    name: string
    /** Circuit breaker state. */
    breaker: 'closed' | 'open' | 'half-open'
    /** Store operations that failed or timed out (each counted as a miss or an unwritten value). */
    errors: number
    /**
     * Store operations skipped: the breaker was open, or the operation's `storeTimeout` budget was
     * already spent by its earlier store calls.
     */
    skipped: number
    /** Reads answered by joining a read of the same key already in flight (one round trip for both). */
    joinedReads: number
  }
  /**
   * Invalidations the store did not take, kept and replayed (see `InvalidationResult`): `pending`
   * now (keys, plus 1 for a pending clear of the namespace), and since start how many were
   * `deferred` and `replayed` (one per key, one per clear), and how many times the debt outgrew
   * `maxInvalidationDebt` (`overflowed`) and became a clear of the namespace.
   */
  invalidationDebt: DebtStats
  /** The in-process tier, when `l1` is configured. */
  l1?: {
    /** Hits answered from L1 without asking the store. */
    hits: number
    entries: number
    /** Bytes held, as counted against `l1.maxSize`. */
    size: number
    /** `'up'`, `'down'` (entries expire after `fallbackTtl`), or `'none'` (no bus configured). */
    bus: 'up' | 'down' | 'none'
  }
}

interface CallSettings {
  ttlMs: number
  swrMs: number
  sieMs: number
  timeoutMs: number | undefined
  hardTimeoutMs: number | undefined
  tags: readonly string[]
  lock: boolean
  lockTimeoutMs: number
}

interface Loaded {
  value: unknown
  /** Tag versions read before the factory ran. */
  versions: readonly string[]
  /** Set when another instance produced the value (it is in the store already). */
  fromStore?: boolean
  /** The cross-instance lock to release once the value is written. */
  lock?: StoreLock
}

type Factory<T> = (ctx: FactoryContext<T>) => T | Promise<T>

// How an entry stands when read. Numbers, not strings: this runs on every hit.
const FRESH = 0
const STALE = 1 // servable now, while one background refresh runs
const GRACE = 2 // servable only in place of a failing or slow factory
const DEAD = 3

const EMPTY: readonly string[] = Object.freeze([])
const NO_ENTRY = Symbol('no entry')
const FOREVER = Number.MAX_SAFE_INTEGER
const noop = () => {}

/**
 * The engine behind `fastify.cache`: reads through the safe-store wrapper, decides freshness,
 * coalesces factory calls, serves stale values, and keeps tag versions.
 *
 * Tags: each tag has two version records in the store (`hard` and `soft`). An entry remembers the
 * versions it was produced under; `invalidateTags` writes new random versions, so every entry with
 * that tag stops matching (hard: a miss; soft: stale). Storage stays bounded (two small records per
 * tag, each with a TTL, never a growing set of member keys), invalidation is one write per tag for
 * every instance sharing the store, and no clocks are compared between machines. A record that was
 * evicted or expired reads as "no version", which matches no entry: the failure mode is a miss,
 * never a stale value served as fresh.
 */
export class Cache {
  /** The namespace every key of this cache lives in. */
  readonly namespace: string
  readonly #options: ResolvedCacheOptions
  readonly #tiers: Tiers
  readonly #prefix: string
  readonly #tagPrefix: string
  readonly #defaults: CallSettings
  readonly #loading = new Map<string, Promise<Loaded>>()
  // The decoded value of each entry object a synchronous store hands back, so a memory hit
  // deserializes nothing. Weak: it lives exactly as long as the store keeps the entry.
  readonly #decoded = new WeakMap<StoredEntry, unknown>()
  // The last entry a remote read answered, decoded: the callers that joined one store read (see
  // SafeStore#get) all get that entry object, one after the other, and decode it once. One slot
  // rather than the weak map: a remote read returns a new object every time, and a weak-map entry
  // per read measured as the largest garbage-collection cost of a remote hit.
  #lastRemote: StoredEntry | undefined
  #lastRemoteValue: unknown
  // Keys whose factory failed while a stale value stood in: no new attempt before the time given.
  readonly #backoff = new Map<string, number>()
  readonly #background = new Set<Promise<unknown>>()
  readonly #versionSeed = randomBytes(6).toString('base64url')
  #versionCounter = 0
  #closed = false
  #started = false
  #routeBackend: RouteBackend | undefined
  /** Run by `close()`: listeners this cache put on a store it may share. */
  readonly #onClose: Array<() => void> = []
  readonly #ownsStore: boolean
  /** The store is the memory store and there is no L1: every read answers synchronously. */
  readonly #memoryOnly: boolean
  #counters = {
    hits: 0,
    misses: 0,
    stale: 0,
    coalesced: 0,
    sets: 0,
    deletes: 0,
    invalidations: 0,
    factoryErrors: 0,
  }

  /** Use `createCache()` or the plugin; `ownsStore` says whether `close()` closes the store. */
  constructor(tiers: Tiers, options: ResolvedCacheOptions, ownsStore = false) {
    this.#tiers = tiers
    this.#ownsStore = ownsStore
    this.#memoryOnly = tiers.safe.store instanceof MemoryStore && tiers.l1 === undefined
    this.#options = options
    this.namespace = options.namespace
    // ':' cannot appear in a namespace, so no namespace's keys are a prefix of another's.
    this.#prefix = `${options.namespace}:k:`
    this.#tagPrefix = `${options.namespace}:t:`
    this.#defaults = Object.freeze({
      ttlMs: options.ttlMs,
      swrMs: options.staleWhileRevalidateMs,
      sieMs: options.staleIfErrorMs,
      timeoutMs: options.timeoutMs,
      hardTimeoutMs: options.hardTimeoutMs,
      tags: EMPTY,
      lock: options.lock,
      lockTimeoutMs: options.lockTimeoutMs,
    })
  }

  /**
   * Returns the cached value, or runs `factory` to produce it, stores it and returns it.
   * Concurrent callers of one key share one factory call and its result or error.
   * @example
   * const product = await fastify.cache.getOrSet(`product:${id}`, () => db.product(id), { ttl: '5m', tags: ['products'] })
   */
  getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    if (typeof key !== 'string' || key === '')
      return Promise.reject(new FST_PERF_CACHE_INVALID_KEY(typeof key))
    if (options?.skip === true || this.#closed) return this.#bypass(key, factory)
    const k = this.#prefix + key
    if (options?.forceFresh === true)
      return this.#getOrSetSlow(key, k, factory, options, undefined, this.#newDeadline(), this.#owner(key))
    let found: StoredEntry | undefined | Promise<T>
    if (this.#memoryOnly) {
      // The memory store alone answers at once: no continuation to allocate.
      found = this.#tiers.get(k) as StoredEntry | undefined
    } else {
      let owner: CacheLookupEvent | undefined
      // A store that may answer later: the hit's checks run in the continuation that settles the
      // store's answer (SafeStore#read), so a remote hit costs the client's promise, one reaction
      // and the promise returned here. The operation's budget is the read's own deadline, handed
      // to the continuation: every later store call of this getOrSet (tag versions, new tags'
      // records, the lock) must end by then. Concurrent reads of a key share one store read (see
      // SafeStore#read), so they share its entry and decode it once. An L1 hit is answered at once.
      found = this.#tiers.read(k, undefined, (entry, deadline) =>
        this.#afterRead(key, k, factory, options, entry, deadline, owner),
      )
      // (The safe store's own Promise: an entry is a plain object.)
      if (found instanceof Promise) {
        owner = this.#owner(key)
        return found
      }
    }
    // The hot path: a synchronous store, an untagged entry, fresh. One map read, one clock read,
    // one weak-map read; no option parsing, no await.
    const value = this.#freshValue(key, found, true)
    if (value !== NO_ENTRY) return Promise.resolve(value as T)
    // A synchronous answer took no time: the budget starts now.
    return this.#getOrSetSlow(key, k, factory, options, found, this.#newDeadline(), this.#owner(key))
  }

  /** A remote read's answer: the value of a fresh untagged entry, or the slow path. */
  #afterRead<T>(
    key: string,
    k: string,
    factory: Factory<T>,
    options: GetOrSetOptions | undefined,
    entry: StoredEntry | undefined,
    deadline: number,
    owner: CacheLookupEvent | undefined,
  ): T | Promise<T> {
    const value = this.#freshValue(key, entry, false, owner)
    return value !== NO_ENTRY
      ? (value as T)
      : this.#getOrSetSlow(key, k, factory, options, entry, deadline, owner)
  }

  /**
   * The `lookup` event of a getOrSet whose outcome is published later than its call (a remote
   * store's answer, tags to check, a factory to wait for): published now, while the caller's code
   * runs, so that a subscriber can name the request on it (the timing plugin does), and its
   * outcome event carries that request. `undefined` when nobody listens.
   */
  #owner(key: string): CacheLookupEvent | undefined {
    if (!channels.lookup.hasSubscribers) return undefined
    const event: CacheLookupEvent = {
      key,
      store: this.#tiers.safe.store.name,
      namespace: this.namespace,
      request: undefined,
    }
    channels.lookup.publish(event)
    return event
  }

  /** The value of an untagged fresh entry, counted as a hit; `NO_ENTRY` for anything else. */
  #freshValue(key: string, entry: StoredEntry | undefined, memo: boolean, owner?: CacheLookupEvent): unknown {
    if (entry === undefined || entry.tags.length !== 0 || entry.freshUntil <= Date.now()) return NO_ENTRY
    const value = this.#decode(entry, memo)
    if (value !== NO_ENTRY) {
      this.#counters.hits++
      if (channels.hit.hasSubscribers) this.#publish(channels.hit, key, undefined, owner)
    }
    return value
  }

  async #getOrSetSlow<T>(
    key: string,
    k: string,
    factory: Factory<T>,
    options: GetOrSetOptions | undefined,
    entry: StoredEntry | undefined,
    deadline: number,
    owner: CacheLookupEvent | undefined,
  ): Promise<T> {
    const settings = this.#settings(options)
    let state = DEAD
    let value: unknown = NO_ENTRY
    if (entry !== undefined) {
      state = await this.#classify(entry, deadline)
      if (state !== DEAD) value = this.#decode(entry)
      if (value === NO_ENTRY) state = DEAD
    }
    if (state === FRESH) {
      this.#counters.hits++
      if (channels.hit.hasSubscribers) this.#publish(channels.hit, key, undefined, owner)
      return value as T
    }
    if (state === STALE) {
      this.#counters.stale++
      if (channels.stale.hasSubscribers) this.#publish(channels.stale, key, { reason: 'revalidate' }, owner)
      if (!this.#loading.has(k) && !this.#backingOff(k)) {
        // Nobody waits for the refresh: its store calls get a budget of their own.
        const refresh = this.#load(key, k, factory, settings, value as T, this.#newDeadline())
        this.#track(refresh)
      }
      return value as T
    }

    const graced = state === GRACE
    if (graced && this.#backingOff(k)) return this.#serveStale(key, value, 'error', owner) as T
    let load = this.#loading.get(k)
    if (load !== undefined) {
      this.#counters.coalesced++
      if (channels.coalesced.hasSubscribers) this.#publish(channels.coalesced, key, undefined, owner)
    } else {
      this.#counters.misses++
      if (channels.miss.hasSubscribers) this.#publish(channels.miss, key, undefined, owner)
      load = this.#load(key, k, factory, settings, graced ? (value as T) : undefined, deadline)
    }
    if (!graced && settings.hardTimeoutMs === undefined) return (await load).value as T
    return this.#race(key, load, settings, graced ? value : NO_ENTRY, owner) as Promise<T>
  }

  /**
   * Runs the factory once for `k` and stores its result. Registered in `#loading` until the value
   * is written, so callers whose store read was answered before the write still join it.
   *
   * `deadline` is the budget of the store calls made before the factory runs (the read that
   * missed, then tag versions and the lock attempt): the time a caller may lose to a failing store.
   * The factory's own time is not store time and is not counted against it (`timeout` and
   * `hardTimeout` bound the factory); the write after it gets a budget of its own, and nobody
   * waits for it.
   */
  #load<T>(
    key: string,
    k: string,
    factory: Factory<T>,
    settings: CallSettings,
    stale: T | undefined,
    deadline: number,
  ): Promise<Loaded> {
    let ttlMs = settings.ttlMs
    const run = async (): Promise<Loaded> => {
      // Tag versions are read before the factory runs: an invalidation that lands while it runs
      // makes the value it returns stale at once, instead of being lost.
      const versions = settings.tags.length > 0 ? await this.#currentVersions(settings.tags, deadline) : EMPTY
      let lock: StoreLock | false | undefined
      if (settings.lock) {
        const waited = await this.#lockOrWait(key, k, settings.lockTimeoutMs, deadline)
        if (waited.produced !== NO_ENTRY) return { value: waited.produced, versions, fromStore: true }
        lock = waited.lock
      }
      try {
        const value = await factory({
          key,
          stale,
          setTtl: (ttl) => {
            ttlMs = positiveMs(ttl, 'ttl')
          },
        })
        if (value === undefined) throw new FST_PERF_CACHE_UNDEFINED_VALUE(key)
        return { value, versions, lock: lock || undefined }
      } catch (error) {
        if (lock) this.#tiers.unlock(lock)
        throw error
      }
    }
    const load = run()
    this.#loading.set(k, load)
    const done = () => {
      if (this.#loading.get(k) === load) this.#loading.delete(k)
    }
    load.then(
      (loaded) => {
        this.#backoff.delete(k)
        if (loaded.fromStore) return done()
        const written = this.#write(key, k, loaded.value, { ...settings, ttlMs }, loaded.versions)
        const finish = () => {
          done()
          // Released after the write, so instances waiting on the lock find the value.
          if (loaded.lock !== undefined) this.#tiers.unlock(loaded.lock)
        }
        if (isPromise(written)) written.then(finish, finish)
        else finish()
      },
      (error) => {
        done()
        this.#counters.factoryErrors++
        // Remembered only for keys with a stale value to serve in the meantime (see #race).
        if (this.#options.graceBackoffMs > 0) this.#setBackoff(k)
        if (channels.factoryError.hasSubscribers) {
          channels.factoryError.publish({
            key,
            store: this.#tiers.safe.store.name,
            namespace: this.namespace,
            error,
            graced: stale !== undefined,
          })
        }
      },
    )
    return load
  }

  /**
   * Takes the cross-instance lock for `key`, or, while another instance holds it, polls the shared
   * store for the value that instance is producing (every 10 ms at first, backing off to 100 ms) and
   * tries the lock again each time, so a holder that failed is replaced at once. After `timeoutMs`
   * it gives up and the caller goes ahead on its own.
   */
  async #lockOrWait(
    key: string,
    k: string,
    timeoutMs: number,
    deadline: number,
  ): Promise<{ lock: StoreLock | undefined; produced: unknown }> {
    const lockKey = `${this.namespace}:l:${key}`
    const waited = await this.#lockLoop(
      lockKey,
      timeoutMs,
      async (round) => {
        const entry = await this.#tiers.get(k, round)
        if (entry !== undefined && (await this.#classify(entry, round)) === FRESH) {
          const value = this.#decode(entry)
          if (value !== NO_ENTRY) return { value }
        }
        return undefined
      },
      deadline,
    )
    return { lock: waited.lock, produced: waited.found === undefined ? NO_ENTRY : waited.found.value }
  }

  /**
   * The lock-or-wait loop shared by `getOrSet` and the route cache; `probe` looks for the holder's
   * result within the store budget it is given. The first attempt belongs to the caller's
   * operation and uses its `deadline`. Waiting for another holder is bounded by `timeoutMs`
   * (`lockTimeout`) instead: it is the wait the caller asked for, and each round of it (a probe,
   * then a new attempt) gets a store budget of its own.
   */
  async #lockLoop<T>(
    lockKey: string,
    timeoutMs: number,
    probe: (deadline: number) => Promise<T | undefined>,
    deadline: number,
  ): Promise<{ lock: StoreLock | undefined; found: T | undefined }> {
    const waitUntil = Date.now() + timeoutMs
    let delay = 10
    let round = deadline
    let lock = await this.#tiers.lock(lockKey, timeoutMs, round)
    while (lock === false) {
      const left = waitUntil - Date.now()
      if (left <= 0 || this.#closed) break
      await sleep(Math.min(delay, left))
      delay = Math.min(delay * 1.5, 100)
      round = this.#newDeadline()
      const found = await probe(round)
      if (found !== undefined) return { lock: undefined, found }
      lock = await this.#tiers.lock(lockKey, timeoutMs, round)
    }
    if (lock) {
      // Double-check once the lock is ours: a holder may have written its value and released the
      // lock between our miss (or our last probe) and this acquisition; running the factory again
      // would be the duplicate the lock exists to prevent.
      const found = await probe(round)
      if (found !== undefined) {
        this.#tiers.unlock(lock)
        return { lock: undefined, found }
      }
    }
    return { lock: lock || undefined, found: undefined }
  }

  /** The budget of one operation's store calls: `storeTimeout` from now, `performance.now()` time. */
  #newDeadline(): number {
    return performance.now() + this.#options.storeTimeoutMs
  }

  /** Waits for a load with a soft timeout (when a stale value exists) and a hard timeout. */
  #race(
    key: string,
    load: Promise<Loaded>,
    settings: CallSettings,
    stale: unknown,
    owner: CacheLookupEvent | undefined,
  ): Promise<unknown> {
    const hasStale = stale !== NO_ENTRY
    return new Promise((resolve, reject) => {
      let soft: NodeJS.Timeout | undefined
      let hard: NodeJS.Timeout | undefined
      let settled = false
      const finish = () => {
        settled = true
        if (soft !== undefined) clearTimeout(soft)
        if (hard !== undefined) clearTimeout(hard)
      }
      if (hasStale && settings.timeoutMs !== undefined) {
        soft = setTimeout(() => {
          if (settled) return
          finish()
          resolve(this.#serveStale(key, stale, 'timeout', owner))
        }, settings.timeoutMs)
      }
      if (settings.hardTimeoutMs !== undefined) {
        hard = setTimeout(() => {
          if (settled) return
          finish()
          this.#counters.factoryErrors++
          if (hasStale) resolve(this.#serveStale(key, stale, 'timeout', owner))
          else reject(new FST_PERF_CACHE_FACTORY_TIMEOUT(key, settings.hardTimeoutMs!))
        }, settings.hardTimeoutMs)
      }
      load.then(
        (loaded) => {
          if (settled) return
          finish()
          resolve(loaded.value)
        },
        (error) => {
          if (settled) return
          finish()
          if (hasStale) resolve(this.#serveStale(key, stale, 'error', owner))
          else reject(error)
        },
      )
    })
  }

  #serveStale(
    key: string,
    value: unknown,
    reason: 'revalidate' | 'error' | 'timeout',
    owner?: CacheLookupEvent,
  ): unknown {
    this.#counters.stale++
    if (channels.stale.hasSubscribers) this.#publish(channels.stale, key, { reason }, owner)
    return value
  }

  /** Runs a factory outside the cache (`skip`, or after close). */
  async #bypass<T>(key: string, factory: Factory<T>): Promise<T> {
    return factory({ key, stale: undefined, setTtl: noop })
  }

  /**
   * Returns the fresh value under `key`, or `undefined`.
   * @example const session = await fastify.cache.get<Session>(`session:${id}`)
   */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    this.#assertKey(key)
    if (this.#closed) return undefined
    const found = this.#tiers.get(this.#prefix + key)
    // One budget for the read and its tags' versions (see getOrSet).
    const deadline = isPromise(found) ? this.#tiers.safe.lastCall.deadline : undefined
    const entry = await found
    if (entry === undefined) {
      this.#counters.misses++
      return undefined
    }
    const state = await this.#classify(entry, deadline ?? this.#newDeadline())
    const value =
      state === FRESH || (options?.allowStale === true && state !== DEAD) ? this.#decode(entry) : NO_ENTRY
    if (value === NO_ENTRY) {
      this.#counters.misses++
      return undefined
    }
    if (state === FRESH) this.#counters.hits++
    else this.#counters.stale++
    return value as T
  }

  /**
   * Stores `value` under `key`. `undefined` is refused (`FST_PERF_CACHE_UNDEFINED_VALUE`); `null` is a value.
   * Resolves once the store has answered (or failed, which is logged, not thrown).
   */
  async set<T>(key: string, value: T, options?: SetOptions): Promise<void> {
    this.#assertKey(key)
    if (value === undefined) throw new FST_PERF_CACHE_UNDEFINED_VALUE(key)
    const settings = this.#settings(options)
    // Serialize before anything else so an unserializable value fails the caller, not the store.
    const data = this.#options.serializer.serialize(value)
    if (this.#closed) return
    const deadline = this.#newDeadline()
    const versions = settings.tags.length > 0 ? await this.#currentVersions(settings.tags, deadline) : EMPTY
    const k = this.#prefix + key
    // A set() the store did not take may leave the value it was meant to replace there: for every
    // other instance, and for this one once L1 lets it go. So it becomes a delete debt, which
    // hides the key here until the store has dropped it. Not so for the writes that fill the
    // cache after a miss (getOrSet, the route cache): nothing older is at stake there, and in an
    // outage under load they would flood the debt.
    if (!(await this.#store(key, k, data, value, settings, versions, deadline))) this.#tiers.debt.defer([k])
  }

  /**
   * Deletes the entry under `key` (on every instance sharing the store). Resolves `deferred` when
   * the store did not take it now: it is then honoured here at once and replayed later.
   */
  async delete(key: string): Promise<InvalidationResult> {
    this.#assertKey(key)
    if (this.#closed) return DEFERRED
    this.#counters.deletes++
    const done = await this.#tiers.delete(this.#prefix + key, this.#newDeadline())
    if (channels.invalidate.hasSubscribers) this.#publishInvalidate({ keys: [key] })
    return done ? APPLIED : DEFERRED
  }

  /** Deletes several keys at once; resolves like {@link delete}. */
  async deleteMany(keys: readonly string[]): Promise<InvalidationResult> {
    for (const key of keys) this.#assertKey(key)
    if (keys.length === 0) return APPLIED
    if (this.#closed) return DEFERRED
    this.#counters.deletes += keys.length
    const done = await this.#tiers.deleteMany(
      keys.map((key) => this.#prefix + key),
      this.#newDeadline(),
    )
    if (channels.invalidate.hasSubscribers) this.#publishInvalidate({ keys })
    return done ? APPLIED : DEFERRED
  }

  /**
   * Invalidates every entry carrying one of `tags`, for every instance sharing the store: one
   * small write per tag, whatever the number of entries. Resolves like {@link delete}.
   * @example await fastify.cache.invalidateTags(['products'])
   */
  async invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<InvalidationResult> {
    const mode = options?.mode ?? 'delete'
    if (mode !== 'delete' && mode !== 'expire')
      throw new FST_PERF_CACHE_INVALID_OPTION('mode', 'use "delete" or "expire"')
    const unique = this.#assertTags(tags)
    if (unique.length === 0) return APPLIED
    if (this.#closed) return DEFERRED
    this.#counters.invalidations++
    const version = this.#newVersion()
    const kind = mode === 'delete' ? 'h:' : 's:'
    const keys = unique.map((tag) => this.#tagPrefix + kind + tag)
    const done = await this.#tiers.setAll(
      keys,
      this.#versionRecord(version),
      this.#options.tagTtlMs,
      this.#newDeadline(),
    )
    if (channels.invalidate.hasSubscribers) this.#publishInvalidate({ tags: unique, mode })
    return done ? APPLIED : DEFERRED
  }

  /**
   * Deletes every entry of this cache's namespace (and nothing else in a shared store). Resolves
   * like {@link delete}; while a clear is deferred, every read of the namespace misses here.
   */
  async clear(): Promise<InvalidationResult> {
    if (this.#closed) return DEFERRED
    const done = await this.#tiers.clear(`${this.namespace}:`, this.#newDeadline())
    if (channels.invalidate.hasSubscribers) this.#publishInvalidate({ clear: true })
    return done ? APPLIED : DEFERRED
  }

  /** Counters since start, and the store's health. */
  stats(): CacheStats {
    const l1 = this.#tiers.l1
    return {
      ...this.#counters,
      loading: this.#loading.size,
      store: {
        name: this.#tiers.safe.store.name,
        breaker: this.#tiers.safe.state,
        errors: this.#tiers.safe.errors,
        skipped: this.#tiers.safe.rejected,
        joinedReads: this.#tiers.safe.joinedReads,
      },
      invalidationDebt: this.#tiers.debt.stats(),
      ...(l1 === undefined
        ? {}
        : {
            l1: {
              hits: this.#tiers.l1Hits,
              entries: l1.entries,
              size: l1.size,
              bus: this.#tiers.hasBus ? (this.#tiers.busUp ? 'up' : 'down') : 'none',
            },
          }),
    }
  }

  /** Starts listening on the invalidation bus, if there is one. Idempotent; the plugin calls it on ready. */
  start(): void {
    if (this.#started || this.#closed) return
    this.#started = true
    this.#tiers.start()
  }

  /**
   * Stops using the store: later calls bypass the cache (factories run, nothing is stored), so
   * requests still in flight during shutdown keep working. Waits up to `waitMs` for background
   * refreshes, then closes the L1 tier and the store if this cache created it. A store or bus you
   * passed in is yours to close.
   */
  async close(waitMs = 2000): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const off of this.#onClose.splice(0)) off()
    // One last chance for invalidations the store did not take, within the same wait.
    const replay = this.#tiers.debt.replayNow()
    if (replay !== undefined) this.#track(replay)
    if (this.#background.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...this.#background]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, waitMs)
          timer.unref()
        }),
      ])
      clearTimeout(timer)
    }
    this.#tiers.debt.stop()
    this.#tiers.l1?.close()
    if (this.#ownsStore) await this.#tiers.safe.close()
  }

  /** @internal The route cache's view of the engine; see {@link RouteBackend}. */
  [kRouteBackend](): RouteBackend {
    if (this.#routeBackend !== undefined) return this.#routeBackend
    const tiers = this.#tiers
    const memory = tiers.safe.store instanceof MemoryStore ? tiers.safe.store : tiers.l1
    // The store itself when it answers synchronously (a remote store is never peeked).
    const sync = tiers.safe.store instanceof MemoryStore ? tiers.safe.store : undefined
    const backend: RouteBackend = {
      prefix: `${this.namespace}:r:`,
      storeName: tiers.safe.store.name,
      closed: () => this.#closed,
      storeUp: () => !this.#closed && tiers.safe.state !== 'open',
      deadline: () => this.#newDeadline(),
      lastRead: () => tiers.safe.lastCall,
      get: (key, deadline) => tiers.get(key, deadline),
      peek: (key) => tiers.peek(key, sync),
      peekable: sync !== undefined || tiers.l1 !== undefined,
      getMany: (keys, deadline) => tiers.getMany(keys, deadline),
      set: (key, entry, ttlMs, deadline) => tiers.set(key, entry, ttlMs, deadline),
      add: (key, entry, ttlMs, deadline) => tiers.add(key, entry, ttlMs, deadline),
      deleteMany: (keys, deadline) => tiers.deleteMany(keys, deadline),
      tagState: (entry, deadline) => this.#tagState(entry, deadline),
      tagVersions: (tags, deadline) => this.#currentVersions(tags, deadline ?? this.#newDeadline()),
      assertTags: (tags) => this.#assertTags(tags),
      // ':rl:' cannot collide with data locks (':l:') nor with route entries (':r:').
      lockOrWait: (key, timeoutMs, probe, deadline) =>
        this.#lockLoop(`${this.namespace}:rl:${key}`, timeoutMs, probe, deadline ?? this.#newDeadline()),
      unlock: (lock) => {
        tiers.unlock(lock)
      },
      track: (promise) => this.#track(promise),
      allocate:
        memory === undefined ? (size) => Buffer.allocUnsafeSlow(size) : (size) => memory.allocate(size),
      onRelocate: (listener) => {
        const off = memory?.onRelocate(listener)
        if (off !== undefined) this.#onClose.push(off)
      },
    }
    this.#routeBackend = backend
    return backend
  }

  // --- internals ---

  /** 0 when the entry's tags are current, 1 when one was invalidated softly, 2 when hard. */
  #tagState(entry: StoredEntry, deadline?: number): MaybePromise<number> {
    if (entry.tags.length === 0) return 0
    const check = (records: ReadonlyArray<StoredEntry | undefined>) => {
      const expected = entry.tagVersions
      let soft = 0
      for (let i = 0; i < records.length; i += 2) {
        if (records[i]?.value !== expected[i]) return 2
        if (records[i + 1]?.value !== expected[i + 1]) soft = 1
      }
      return soft
    }
    const versions = this.#tiers.getMany(this.#tagKeys(entry.tags), deadline)
    return isPromise(versions) ? versions.then(check) : check(versions)
  }

  #settings(options: SetOptions | GetOrSetOptions | undefined): CallSettings {
    if (options === undefined) return this.#defaults
    const d = this.#defaults
    const o = options as GetOrSetOptions
    return {
      ttlMs: o.ttl === undefined ? d.ttlMs : positiveMs(o.ttl, 'ttl'),
      swrMs:
        o.staleWhileRevalidate === undefined ? d.swrMs : toMs(o.staleWhileRevalidate, 'staleWhileRevalidate'),
      sieMs: o.staleIfError === undefined ? d.sieMs : toMs(o.staleIfError, 'staleIfError'),
      timeoutMs: o.timeout === undefined ? d.timeoutMs : positiveMs(o.timeout, 'timeout'),
      hardTimeoutMs: o.hardTimeout === undefined ? d.hardTimeoutMs : positiveMs(o.hardTimeout, 'hardTimeout'),
      tags: o.tags === undefined ? EMPTY : this.#assertTags(o.tags),
      lock: o.lock === undefined ? d.lock : o.lock === true,
      lockTimeoutMs: o.lockTimeout === undefined ? d.lockTimeoutMs : positiveMs(o.lockTimeout, 'lockTimeout'),
    }
  }

  /** Decides how an entry stands now, reading its tags' versions when it has tags. */
  #classify(entry: StoredEntry, deadline: number): MaybePromise<number> {
    if (entry.tags.length === 0) return this.#state(entry, false)
    const versions = this.#tiers.getMany(this.#tagKeys(entry.tags), deadline)
    if (isPromise(versions)) return versions.then((v) => this.#stateWithTags(entry, v))
    return this.#stateWithTags(entry, versions)
  }

  #stateWithTags(entry: StoredEntry, records: ReadonlyArray<StoredEntry | undefined>): number {
    const expected = entry.tagVersions
    let soft = false
    for (let i = 0; i < records.length; i += 2) {
      if (records[i]?.value !== expected[i]) return DEAD
      if (records[i + 1]?.value !== expected[i + 1]) soft = true
    }
    return this.#state(entry, soft)
  }

  #state(entry: StoredEntry, softInvalidated: boolean): number {
    const now = Date.now()
    if (!softInvalidated && now < entry.freshUntil) return FRESH
    if (now < entry.staleUntil) return STALE
    if (now < entry.graceUntil) return GRACE
    return DEAD
  }

  /**
   * The current versions of `tags` (hard, soft per tag), creating records for tags seen first.
   * Every store call shares the caller's `deadline`; once it is spent the calls answer at once
   * (no record read is a new version: the entry is a miss for others, never a stale hit).
   */
  async #currentVersions(tags: readonly string[], deadline: number): Promise<readonly string[]> {
    const keys = this.#tagKeys(tags)
    const records = await this.#tiers.getMany(keys, deadline)
    const versions = new Array<string>(keys.length)
    const absent: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const current = records[i]?.value
      if (typeof current === 'string') versions[i] = current
      else absent.push(i)
    }
    if (absent.length === 0) return versions
    // First use (or the record was evicted): give the tag a version. Two instances using a new
    // tag at once must agree on it, or each one's entries are dead for the other (one more miss
    // each, never a stale hit). With the store's set-if-absent exactly one version is written
    // and the others adopt it; without one (or when it gave no answer), write and read back,
    // which adopts the last write and leaves a window of one round trip. Every record is created
    // at once, so new tags cost the same round trips (and budget) whatever their number.
    const created = this.#newVersion()
    const record = this.#versionRecord(created)
    const ttlMs = this.#options.tagTtlMs
    const added = await Promise.all(absent.map((i) => this.#tiers.add(keys[i]!, record, ttlMs, deadline)))
    const unsure: number[] = []
    const writes: Array<MaybePromise<boolean>> = []
    for (let j = 0; j < absent.length; j++) {
      const i = absent[j]!
      versions[i] = created
      if (added[j] === true) continue
      if (added[j] === undefined) writes.push(this.#tiers.set(keys[i]!, record, ttlMs, deadline))
      unsure.push(i)
    }
    if (writes.length > 0) await Promise.all(writes)
    if (unsure.length === 0) return versions
    const settled = await this.#tiers.getShared(
      unsure.map((i) => keys[i]!),
      deadline,
    )
    const ours: Array<MaybePromise<boolean>> = []
    for (let j = 0; j < unsure.length; j++) {
      const i = unsure[j]!
      const value = settled[j]?.value
      // The winner's record is already gone (evicted, or the store failed): ours, then.
      if (typeof value === 'string') versions[i] = value
      else ours.push(this.#tiers.set(keys[i]!, record, ttlMs, deadline))
    }
    if (ours.length > 0) await Promise.all(ours)
    return versions
  }

  #tagKeys(tags: readonly string[]): string[] {
    const keys = new Array<string>(tags.length * 2)
    for (let i = 0; i < tags.length; i++) {
      keys[2 * i] = `${this.#tagPrefix}h:${tags[i]}`
      keys[2 * i + 1] = `${this.#tagPrefix}s:${tags[i]}`
    }
    return keys
  }

  #versionRecord(version: string): StoredEntry {
    return {
      value: version,
      createdAt: Date.now(),
      freshUntil: FOREVER,
      staleUntil: FOREVER,
      graceUntil: FOREVER,
      tags: EMPTY,
      tagVersions: EMPTY,
    }
  }

  #newVersion(): string {
    return `${Date.now().toString(36)}.${this.#versionSeed}.${(this.#versionCounter++).toString(36)}`
  }

  /** Serializes and writes a value; failures are logged and counted, never thrown. */
  #write(
    key: string,
    k: string,
    value: unknown,
    settings: CallSettings,
    versions: readonly string[],
  ): MaybePromise<unknown> {
    let data: string | Uint8Array
    try {
      data = this.#options.serializer.serialize(value)
    } catch (error) {
      if (channels.storeError.hasSubscribers)
        channels.storeError.publish({ store: this.#tiers.safe.store.name, operation: 'serialize', error })
      return undefined
    }
    if (this.#closed) return undefined
    return this.#store(key, k, data, value, settings, versions)
  }

  #store(
    key: string,
    k: string,
    data: string | Uint8Array,
    value: unknown,
    settings: CallSettings,
    versions: readonly string[],
    deadline?: number,
  ): MaybePromise<boolean> {
    const now = Date.now()
    const freshUntil = now + settings.ttlMs
    const entry: StoredEntry = {
      value: data,
      createdAt: now,
      freshUntil,
      staleUntil: freshUntil + settings.swrMs,
      graceUntil: freshUntil + settings.sieMs,
      tags: settings.tags,
      tagVersions: versions,
    }
    // The value we already hold is the decoded form of this entry: a memory store hands this very
    // object back on the next read, which then decodes nothing.
    this.#decoded.set(entry, value)
    this.#counters.sets++
    if (channels.set.hasSubscribers) this.#publish(channels.set, key)
    return this.#tiers.set(k, entry, Math.max(entry.staleUntil, entry.graceUntil) - now, deadline)
  }

  #decode(entry: StoredEntry, memo = true): unknown {
    if (memo) {
      const known = this.#decoded.get(entry)
      if (known !== undefined) return known
    } else if (entry === this.#lastRemote) {
      return this.#lastRemoteValue
    }
    try {
      const value = this.#options.serializer.deserialize(entry.value)
      if (memo) {
        this.#decoded.set(entry, value)
      } else {
        this.#lastRemote = entry
        this.#lastRemoteValue = value
      }
      return value
    } catch (error) {
      // Unreadable data (another serializer, a foreign writer): a miss, reported like a store error.
      if (channels.storeError.hasSubscribers)
        channels.storeError.publish({ store: this.#tiers.safe.store.name, operation: 'deserialize', error })
      return NO_ENTRY
    }
  }

  #backingOff(k: string): boolean {
    const until = this.#backoff.get(k)
    if (until === undefined) return false
    if (Date.now() < until) return true
    this.#backoff.delete(k)
    return false
  }

  #setBackoff(k: string): void {
    // Bounded: a storm of failing distinct keys must not grow this map without end.
    if (this.#backoff.size >= 10_000) this.#backoff.clear()
    this.#backoff.set(k, Date.now() + this.#options.graceBackoffMs)
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.then(noop, noop)
    this.#background.add(tracked)
    tracked.then(() => this.#background.delete(tracked))
  }

  #assertKey(key: string): void {
    if (typeof key !== 'string' || key === '') throw new FST_PERF_CACHE_INVALID_KEY(typeof key)
  }

  #assertTags(tags: readonly string[]): readonly string[] {
    if (!Array.isArray(tags)) throw new FST_PERF_CACHE_INVALID_OPTION('tags', 'must be an array of strings')
    for (const tag of tags) {
      if (typeof tag !== 'string' || tag === '')
        throw new FST_PERF_CACHE_INVALID_OPTION('tags', 'must be non-empty strings')
    }
    return tags.length < 2 ? tags : [...new Set(tags)]
  }

  #publish(
    channel: { publish(message: unknown): void },
    key: string,
    extra?: object,
    owner?: CacheLookupEvent,
  ): void {
    const request = owner?.request
    channel.publish(
      request === undefined
        ? { key, store: this.#tiers.safe.store.name, namespace: this.namespace, ...extra }
        : { key, store: this.#tiers.safe.store.name, namespace: this.namespace, ...extra, request },
    )
  }

  #publishInvalidate(event: object): void {
    channels.invalidate.publish({ namespace: this.namespace, store: this.#tiers.safe.store.name, ...event })
  }
}
