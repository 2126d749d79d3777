import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { CacheStore, ReadBytesCallback, StoredEntry, StoreLock } from '@fastify-perf/cache'
import { decodeEntry, encodeEntry } from '@fastify-perf/cache'
import memjs from 'memjs'
import {
  FST_PERF_MEMCACHED_CLEAR_PREFIX,
  FST_PERF_MEMCACHED_CLOSED,
  FST_PERF_MEMCACHED_CONNECTION_LOST,
} from './errors.js'
import { type GenerationState, Generations } from './generations.js'
import { memcachedKey } from './keys.js'
import { closeSockets, type MemjsServer, trackSockets } from './memjs-sockets.js'
import { OperationDeadlines } from './operation-deadlines.js'
import { type MemcachedStoreOptions, type ResolvedMemcachedStoreOptions, resolveOptions } from './options.js'
import { rendezvous } from './server-selection.js'

type Callback<T> = (error: Error | null, value: T) => void

/** memcached reads an expiry above 30 days as an absolute Unix time (protocol.txt, "Expiration times"). */
const MAX_RELATIVE_EXPIRY_S = 30 * 86_400
const MAX_EXPIRY = 0xffffffff
// memjs answers a too-large value with `new Error('MemJS SET: Value too large')` (status 0x03).
const TOO_LARGE = /Value too large/
// Sockets of a created client that are still open this long after close() are destroyed: a
// frozen server never answers the FIN of a graceful close.
const CLOSE_GRACE_MS = 1000
const silentLogger = { log() {} }
const noop = () => {}
/**
 * Engine keys whose memcached key is remembered (see `MemcachedStore#key`). A catalogue read
 * in turn beyond this many keys recomputes the oldest; each entry holds two key strings and a
 * small record, so about 2 MB at most with 100-byte keys.
 */
export const KEY_MEMO_SIZE = 10_000

/** A memoized memcached key, valid while its namespace's generation is still `gen`. */
interface KeyMemo {
  /** `undefined` for a key without a namespace: its memcached key never changes. */
  readonly ns: GenerationState | undefined
  readonly gen: string | undefined
  readonly mk: string
}

/**
 * The Memcached store for `@fastify-perf/cache`, on memjs, for one server or several.
 *
 * - Keys: printable ASCII keys that fit memcached's 250 bytes are used as they are (after the
 *   prefix and the namespace's generation); any other key is hashed (SHA-256, base64url), so no
 *   key memcached or memjs would mishandle is ever sent.
 * - TTLs: whole seconds rounded up (at least 1); over 30 days they are sent as absolute Unix
 *   time, as memcached requires (a relative 31 days would mean "already expired in 1970").
 * - Values: the `encodeEntry()` bytes; an entry over `maxValueSize` (or refused by the server as
 *   too large) is not stored and is counted in {@link MemcachedStore.oversized}.
 * - `clear(prefix)`: memcached cannot list keys, so each namespace has a generation that is part
 *   of its keys; `clear('<namespace>:')` renews it. Other instances see it within
 *   `generationRefresh` (1 s by default).
 * - `lock()`: memcached `add` with a random token; release compares the token, then deletes.
 * - Failure: every operation has a deadline (`timeout`) that works even under steady traffic to
 *   a frozen server, where memjs's own never fires; created clients retry once, fail over
 *   between several servers, and log nothing (the engine logs, rate-limited).
 *
 * @example
 * import fastifyPerfCache from '@fastify-perf/cache'
 * import { MemcachedStore } from '@fastify-perf/cache-memcached'
 * await app.register(fastifyPerfCache, { store: new MemcachedStore({ servers: '127.0.0.1:11211' }) })
 */
export class MemcachedStore implements CacheStore {
  readonly name = 'memcached'
  /** Entries not stored because they were larger than `maxValueSize` or the server's item size. */
  oversized = 0
  readonly #options: ResolvedMemcachedStoreOptions
  readonly #client: memjs.Client
  readonly #owned: boolean
  /** Every socket memjs opened for a client the store created (see memjs-sockets.ts). */
  readonly #sockets = new Set<Socket>()
  readonly #prefix: string
  readonly #deadlines: OperationDeadlines
  readonly #generations: Generations
  /** Engine key -> memcached key, in insertion order (the oldest is dropped first). */
  readonly #keys = new Map<string, KeyMemo>()
  #closed = false

  constructor(options: MemcachedStoreOptions) {
    const o = resolveOptions(options)
    this.#options = o
    this.#prefix = o.prefix
    this.#owned = o.client === undefined
    this.#client = o.client ?? createClient(o)
    if (this.#owned) {
      for (const server of this.#client.servers) {
        trackSockets(server as unknown as MemjsServer, this.#sockets, connectionLost)
      }
    }
    this.#deadlines = new OperationDeadlines(o.timeoutMs)
    this.#generations = new Generations(
      {
        read: (key) => this.#read(key),
        add: (key, value, expires) => this.#add(key, value, expires),
        write: (key, value, expires) => this.#write(key, value, expires),
      },
      (segment) => memcachedKey(this.#prefix, `gen:${segment}`),
      o.generationRefreshMs,
      // A generation replaced (a clear, here or seen from another instance) or forgotten: the
      // memos check their generation anyway; this only drops the dead ones at once.
      () => this.#keys.clear(),
    )
  }

  /** Operations that got no answer within `timeout` (their server's connection was reset). */
  get timeouts(): number {
    return this.#deadlines.timeouts
  }

  /** Operations waiting for a server now. Bounded by the traffic of one `timeout`, even when a server hangs. */
  get pending(): number {
    return this.#deadlines.size
  }

  get(key: string): Promise<StoredEntry | undefined> {
    const k = this.#key(key)
    return typeof k === 'string' ? this.#get(k) : k.then((mk) => this.#get(mk))
  }

  /**
   * Reads one entry's bytes as stored (the `encodeEntry()` format), undecoded; `undefined` when
   * absent. For an engine that decodes remote entries itself (issue 18's `getBytes`): the bytes
   * are a view on memjs's receive buffer, which memjs never writes again.
   */
  getBytes(key: string): Promise<Buffer | undefined> {
    const k = this.#key(key)
    return typeof k === 'string' ? this.#getBytes(k) : k.then((mk) => this.#getBytes(mk))
  }

  /**
   * `getBytes` with a callback (see `CacheStore.readBytes`), the engine's read: memjs answers with
   * callbacks, so a hit goes from memjs's callback to the engine's settle step with no promise
   * between. The same deadline as every operation; `done` is called exactly once.
   */
  readBytes(key: string, done: ReadBytesCallback): void {
    const k = this.#key(key)
    if (typeof k === 'string') this.#readBytes(k, done)
    else
      k.then(
        (mk) => this.#readBytes(mk, done),
        (error: unknown) => done(error, undefined),
      )
  }

  /**
   * The hit path: one memjs `get` under the deadline every operation has, its answer handed to
   * `done` as memjs gives it (no promise, no mapping). The callback runs inside memjs's socket data
   * handler, so `done` must not throw (the safe store's settle step and `#fetch`'s catch their own).
   */
  #readBytes(mk: string, done: ReadBytesCallback): void {
    if (this.#closed) {
      done(new FST_PERF_MEMCACHED_CLOSED(), undefined)
      return
    }
    const client = this.#client
    const deadlines = this.#deadlines
    // `done` is the deadline's failure too: (error) fits (error, bytes).
    const op = deadlines.track(client.server(mk) as MemjsServer | undefined, done)
    client.get(mk, (error, value) => {
      if (deadlines.settle(op)) done(error, value)
    })
  }

  // memjs has no multi-get: one get per key, all in flight at once (pipelined per server).
  getMany(keys: readonly string[]): Promise<ReadonlyArray<StoredEntry | undefined>> {
    return Promise.all(keys.map((key) => this.get(key)))
  }

  set(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    const bytes = encodeEntry(entry)
    return this.#keyed(key, (mk) => this.#set(mk, bytes, ttlMs))
  }

  /**
   * Writes the entry only if the key holds none (memcached `add`); answers whether it wrote. An
   * entry over `maxValueSize` is not written and answers `false`, like one the server refused.
   */
  add(key: string, entry: StoredEntry, ttlMs: number): Promise<boolean> {
    const bytes = encodeEntry(entry)
    return this.#keyed(key, (mk) => this.#addBytes(mk, bytes, ttlMs))
  }

  async #addBytes(mk: string, bytes: Buffer, ttlMs: number): Promise<boolean> {
    if (bytes.length > this.#options.maxValueSize) {
      this.oversized++
      return false
    }
    try {
      return await this.#add(mk, bytes, expiry(ttlMs))
    } catch (error) {
      this.#refusedAsTooLarge(error)
      return false
    }
  }

  delete(key: string): Promise<boolean> {
    return this.#keyed(key, (mk) => this.#delete(mk))
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    const existed = await Promise.all(keys.map((key) => this.delete(key)))
    let count = 0
    for (const found of existed) if (found) count++
    return count
  }

  /**
   * Makes every key under `prefix` unreachable by renewing the namespace's generation. Only a
   * single `'<namespace>:'` is possible (what `@fastify-perf/cache` passes); anything else rejects
   * with `FST_PERF_MEMCACHED_CLEAR_PREFIX`. The old entries stay in memory until they expire or
   * are evicted.
   */
  async clear(prefix: string): Promise<void> {
    const colon = typeof prefix === 'string' ? prefix.indexOf(':') : -1
    if (colon <= 0 || colon !== prefix.length - 1) {
      throw new FST_PERF_MEMCACHED_CLEAR_PREFIX(JSON.stringify(prefix))
    }
    if (this.#closed) throw new FST_PERF_MEMCACHED_CLOSED()
    await this.#generations.renew(prefix.slice(0, -1))
  }

  /**
   * Takes `key` for `ttlMs` (rounded up to whole seconds) with memcached `add`, which creates a
   * key only if it does not exist: exactly one of any number of concurrent callers gets it.
   *
   * Release reads the token back and deletes the key when it is still ours. That is two steps,
   * not one (memjs has no compare-and-delete), so a holder releasing at the very moment its lock
   * expires and another caller takes it could delete the new holder's lock, a window of one round
   * trip. That is acceptable because the lock only bounds duplicate factory work across instances:
   * the worst outcome is one extra factory call, never a wrong value in the cache.
   */
  async lock(key: string, ttlMs: number): Promise<StoreLock | undefined> {
    const mk = await this.#key(key)
    const token = randomBytes(16)
    if (!(await this.#add(mk, token, expiry(ttlMs)))) return undefined
    let released = false
    return {
      release: async () => {
        if (released) return
        released = true
        const holder = await this.#read(mk)
        if (holder !== null && token.equals(holder)) await this.#delete(mk)
      },
    }
  }

  /**
   * Stops the store's timers and fails operations still waiting. A client the store created is
   * closed (sockets still open after 1 s are destroyed); an injected client is left open.
   * Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#generations.close()
    this.#deadlines.close(new FST_PERF_MEMCACHED_CLOSED())
    if (this.#owned) {
      // Graceful first: writes already queued (a last set) are still sent.
      this.#client.close()
      closeSockets(this.#sockets, CLOSE_GRACE_MS)
    }
  }

  /**
   * The memcached key for an engine key: its namespace's generation, then prefix and hashing.
   * Remembered per engine key while the generation stays the same, so a hit costs one map lookup
   * instead of a split, a generation lookup, two concatenations and a scan (or a SHA-256).
   */
  /**
   * Runs a write with the memcached key of `key`: in this call when the key is known, so commands
   * go out in the order they were called, else once the namespace's generation is read. Never
   * after an `await` on a known key: a read issued right after the write (the same tick) would
   * reach memcached first and answer the old entry (test/integration/data-reads-after-writes.test.ts).
   * (The reads take the same two branches without a closure: they are the hit path.)
   */
  #keyed<T>(key: string, write: (mk: string) => Promise<T>): Promise<T> {
    const k = this.#key(key)
    return typeof k === 'string' ? write(k) : k.then(write)
  }

  #key(key: string): string | Promise<string> {
    const memo = this.#keys.get(key)
    if (memo !== undefined) {
      const ns = memo.ns
      if (ns === undefined) return memo.mk
      if (ns.gen === memo.gen) {
        // What `Generations#current` does on each use: a namespace in use keeps being refreshed.
        ns.used = true
        return memo.mk
      }
    }
    return this.#newKey(key)
  }

  #newKey(key: string): string | Promise<string> {
    const colon = key.indexOf(':')
    // No namespace (no ':', or nothing before it): no generation, and `clear()` cannot reach it.
    if (colon <= 0) return this.#remember(key, undefined, undefined, memcachedKey(this.#prefix, key))
    const segment = key.slice(0, colon)
    const gen = this.#generations.current(segment)
    // A generation has no ':', so `<gen>:` splits unambiguously from the key after it.
    if (typeof gen === 'string') {
      const mk = memcachedKey(this.#prefix, `${gen}:${key}`)
      return this.#remember(key, this.#generations.state(segment), gen, mk)
    }
    // The namespace's first read: not remembered, the next call (synchronous) is.
    return gen.then((g) => memcachedKey(this.#prefix, `${g}:${key}`))
  }

  #remember(key: string, ns: GenerationState | undefined, gen: string | undefined, mk: string): string {
    const keys = this.#keys
    if (keys.size >= KEY_MEMO_SIZE) keys.delete(keys.keys().next().value!)
    keys.set(key, { ns, gen, mk })
    return mk
  }

  #get(mk: string): Promise<StoredEntry | undefined> {
    return this.#fetch(mk, true) as Promise<StoredEntry | undefined>
  }

  #getBytes(mk: string): Promise<Buffer | undefined> {
    return this.#fetch(mk, false) as Promise<Buffer | undefined>
  }

  /** `get` and `getBytes` as Promises over `#readBytes` (the engine's own reads take `readBytes`). */
  #fetch(mk: string, decode: boolean): Promise<StoredEntry | Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.#readBytes(mk, (error, value) => {
        if (error != null) {
          reject(error)
          return
        }
        try {
          resolve(value == null ? undefined : decode ? decodeEntry(value) : (value as Buffer))
        } catch (err) {
          reject(err)
        }
      })
    })
  }

  async #set(mk: string, bytes: Buffer, ttlMs: number): Promise<void> {
    if (bytes.length > this.#options.maxValueSize) {
      this.oversized++
      // The contract says a set replaces the previous entry: an older, smaller value must not
      // keep being served because the new one could not be stored.
      await this.#delete(mk)
      return
    }
    try {
      await this.#write(mk, bytes, expiry(ttlMs))
    } catch (error) {
      // memcached refused the item (its `-I` is below our maxValueSize). It also unlinks the old
      // item in that case, so nothing stale remains; a cache may forget, so this is no failure.
      this.#refusedAsTooLarge(error)
    }
  }

  /** Counts a write memcached refused as too large (its `-I` is below `maxValueSize`); rethrows any other error. */
  #refusedAsTooLarge(error: unknown): void {
    if (!TOO_LARGE.test((error as Error).message)) throw error
    this.oversized++
  }

  #read(mk: string): Promise<Buffer | null> {
    return this.#run<Buffer | null, Buffer | null>(mk, (cb) => this.#client.get(mk, cb), identity)
  }

  #write(mk: string, value: Buffer, expires: number): Promise<void> {
    return this.#run<boolean | null, void>(mk, (cb) => this.#client.set(mk, value, { expires }, cb), noop)
  }

  #add(mk: string, value: Buffer, expires: number): Promise<boolean> {
    return this.#run<boolean | null, boolean>(
      mk,
      (cb) => this.#client.add(mk, value, { expires }, cb),
      isTrue,
    )
  }

  #delete(mk: string): Promise<boolean> {
    return this.#run<boolean | null, boolean>(mk, (cb) => this.#client.delete(mk, cb), isTrue)
  }

  /**
   * Runs one memjs call under a deadline (the hit path is `#fetch`). The answer is mapped inside a
   * try/catch because the callback runs inside memjs's socket data handler: a throw there would
   * break its parsing loop and surface as an uncaught exception.
   */
  #run<R, T>(mk: string, start: (callback: Callback<R>) => void, map: (raw: R) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new FST_PERF_MEMCACHED_CLOSED())
    return new Promise<T>((resolve, reject) => {
      const op = this.#deadlines.track(this.#client.server(mk) as MemjsServer | undefined, reject)
      start((error, raw) => {
        if (!this.#deadlines.settle(op)) return
        if (error) {
          reject(error)
          return
        }
        try {
          resolve(map(raw))
        } catch (err) {
          reject(err)
        }
      })
    })
  }
}

function identity<T>(value: T): T {
  return value
}

function isTrue(answer: boolean | null): boolean {
  return answer === true
}

/** A memjs client configured so that a dead or hung server costs little (see the README). */
function createClient(o: ResolvedMemcachedStoreOptions): memjs.Client {
  // memjs takes seconds. Its own timeouts are idle timers (see operation-deadlines.ts); set to
  // twice ours they only back ours up, so ours always fire first.
  const memjsTimeoutS = (2 * o.timeoutMs) / 1000
  const client = memjs.Client.create(o.servers!.join(','), {
    // One attempt: a retry against a dead server only doubles the wait; the engine's next
    // request is the retry.
    retries: 1,
    failover: o.failover,
    failoverTime: o.failoverTimeMs / 1000,
    timeout: memjsTimeoutS,
    conntimeout: memjsTimeoutS,
    // TCP keep-alive probes find a dead peer on an idle connection.
    keepAlive: true,
    // Never used: every write passes its own non-zero expiry, because memjs sends
    // `expires || default` and so cannot send 0 over a non-zero default.
    expires: 0,
    // memjs logs every failure with console.log; the engine logs store failures, rate-limited.
    logger: silentLogger,
  })
  if (client.servers.length > 1) {
    // memjs's default is hashCode(key) % servers.length (memjs.js, Client#getServer), which
    // remaps most keys when a server is added or removed. `getServer` is its documented hook.
    const pick = rendezvous(client.servers.map((server) => `${server.host}:${server.port}`))
    ;(client as unknown as { getServer: (key: string) => number }).getServer = pick
  }
  return client
}

/** A TTL in ms as memcached's expiry: whole seconds rounded up, absolute past 30 days. */
export function expiry(ttlMs: number): number {
  // `> 1000` is also false for NaN, which gets the shortest expiry rather than "never".
  const seconds = ttlMs > 1000 ? Math.ceil(ttlMs / 1000) : 1
  if (seconds <= MAX_RELATIVE_EXPIRY_S) return seconds
  return Math.min(Math.floor(Date.now() / 1000) + seconds, MAX_EXPIRY)
}

function connectionLost(server: MemjsServer): Error {
  return new FST_PERF_MEMCACHED_CONNECTION_LOST(`${server.host}:${server.port}`)
}
