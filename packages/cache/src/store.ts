/**
 * The contract every cache backend implements: the memory store in this package, the Redis and
 * Memcached stores in their own packages, and any store a user writes. The conformance suite in
 * `@fastify-perf/cache/testing` checks an implementation against it.
 *
 * Rules for implementers:
 * - Every method may answer synchronously or with a Promise. An in-process store should answer
 *   synchronously: the engine then skips the timeout timer and the microtask a Promise costs.
 * - A store never decides freshness. It keeps an entry until `ttlMs` has passed and then forgets
 *   it; the engine reads `freshUntil`, `staleUntil` and `graceUntil` itself.
 * - A store may throw or reject; the engine's safe-store wrapper turns that into a miss, so a store
 *   needs no error handling of its own beyond never hanging when it can avoid it.
 * - Keys arrive already namespaced by the engine. They are arbitrary non-empty strings (any
 *   unicode, spaces, newlines, hundreds of characters): hash or escape them if the backend is
 *   picky (memcached's 250-byte, no-whitespace keys).
 * - `value` must come back byte-exact (a `Uint8Array`) or character-exact (a `string`), with the
 *   same type it was stored as. The other fields must come back equal.
 *
 * Time is in milliseconds everywhere; absolute times are Unix epoch milliseconds (`Date.now()`).
 */
export interface CacheStore {
  /** A short name for logs, metrics and errors, such as `'memory'` or `'redis'`. */
  readonly name: string
  /** Reads one entry; `undefined` when absent or expired. */
  get(key: string): MaybePromise<StoredEntry | undefined>
  /**
   * Optional, for a store that keeps entries as `encodeEntry()` bytes: reads one entry's bytes
   * (`null` or `undefined` when absent) without decoding them. When it is there the engine reads
   * through it and decodes the bytes in the continuation that settles the read (and treats bytes it
   * cannot decode as a failed read), which spares a remote hit the promise and the microtask of a
   * `get().then(decodeEntry)`. `get` must still be implemented, and both must see the same entries.
   */
  getBytes?(key: string): MaybePromise<Uint8Array | null | undefined>
  /**
   * Optional, the callback form of `getBytes`, for a client that answers with callbacks (memjs):
   * calls `done` exactly once, with an error or with the entry's bytes (`null` or `undefined` when
   * absent). When it is there the engine reads through it, and `done` is the step that settles the
   * read: a remote hit then costs no promise between the client's answer and the caller's. It may
   * call `done` synchronously. `get` must still be implemented, and all must see the same entries.
   */
  readBytes?(key: string, done: ReadBytesCallback): void
  /** Reads several entries; the answer has one slot per key, in order, `undefined` when absent. */
  getMany(keys: readonly string[]): MaybePromise<ReadonlyArray<StoredEntry | undefined>>
  /**
   * Writes one entry, replacing any previous one, and keeps it for `ttlMs` milliseconds (> 0).
   * A store that cannot hold the entry (too large) may skip it silently: a cache may forget.
   */
  set(key: string, entry: StoredEntry, ttlMs: number): MaybePromise<void>
  /** Deletes one entry; answers whether it existed (best effort for remote stores). */
  delete(key: string): MaybePromise<boolean>
  /** Deletes several entries; answers how many existed (best effort for remote stores). */
  deleteMany(keys: readonly string[]): MaybePromise<number>
  /**
   * Deletes every entry whose key starts with `prefix`, and nothing else: stores may be shared
   * with other applications. The engine only ever passes `'<namespace>:'`, where the namespace has
   * no ':', so a store that cannot list keys (Memcached) may implement this as a generation
   * counter per first ':'-separated segment of the key.
   */
  clear(prefix: string): MaybePromise<void>
  /** Releases connections and timers the store created. Must be safe to call twice. */
  close(): MaybePromise<void>
  /**
   * Optional: a cross-instance lock for `getOrSet({ lock: true })`. Atomically takes `key` if
   * nobody holds it (Redis `SET key token NX PX ttlMs`, Memcached `add`), for at most `ttlMs`.
   * Answers a handle when taken, `undefined` when someone else holds it. Stores without it get
   * in-process coalescing only.
   */
  lock?(key: string, ttlMs: number): MaybePromise<StoreLock | undefined>
  /**
   * Optional: writes the entry only if `key` holds none, atomically (Redis `SET NX PX`, Memcached
   * `add`); answers whether it wrote. Of any number of concurrent calls for one absent key,
   * exactly one answers `true`. The engine creates tag version records with it, so two instances
   * using a new tag at once agree on its first version. Stores without it: the engine writes the
   * record and reads it back, which leaves a small window for one extra miss.
   */
  add?(key: string, entry: StoredEntry, ttlMs: number): MaybePromise<boolean>
}

/** What `CacheStore.readBytes` calls with its answer. */
export type ReadBytesCallback = (error: unknown, bytes: Uint8Array | null | undefined) => void

/** A lock taken with `CacheStore.lock`. */
export interface StoreLock {
  /**
   * Releases the lock only if this holder still owns it (a token compare-and-delete), so a
   * holder whose lock expired never releases someone else's.
   */
  release(): MaybePromise<void>
}

/** A value or a Promise of it. */
export type MaybePromise<T> = T | Promise<T>

/** Whether a store answer is a Promise (an asynchronous store) rather than the value itself. */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function'
}

/**
 * What the engine stores under a key. Remote stores write it as bytes with `encodeEntry()` and
 * read it back with `decodeEntry()` from this package, so every store shares one wire format.
 */
export interface StoredEntry {
  /** The serialized value (see `Serializer`). */
  readonly value: string | Uint8Array
  /** When the value was produced, epoch ms. */
  readonly createdAt: number
  /** Until when the value is fresh, epoch ms. */
  readonly freshUntil: number
  /** Until when a stale value may be served while one background refresh runs, epoch ms. */
  readonly staleUntil: number
  /** Until when a stale value may stand in for a failing or slow factory, epoch ms. */
  readonly graceUntil: number
  /** Tags the value carries; empty when untagged. */
  readonly tags: readonly string[]
  /**
   * The tag versions seen when the value was produced: for tag `tags[i]`, its hard version at
   * `2 * i` and its soft version at `2 * i + 1`. The entry is invalid once a version changes.
   */
  readonly tagVersions: readonly string[]
}
