import { LRUCache } from 'lru-cache'
import { entrySize } from './entry.js'
import { Slabs } from './slabs.js'
import type { CacheStore, StoredEntry, StoreLock } from './store.js'
import { type Size, toBytes } from './units.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Upper bound of the memory the entries hold, as counted by the store: each value (a text value
   * twice, for the decoded object the engine keeps beside it), its key and tags, and a measured
   * fixed cost per entry (~0.5 KB for a data value, ~1.8 KB for a route response with its decoded
   * head). Measured, the process holds 0.85-1.0x this, and its RSS grows by about 1.2x this on
   * Node 20 (more on Node 24, whose V8 keeps a larger young generation; docs/caching.md).
   * @default '64MB'
   */
  maxSize?: Size
  /** Entries counted larger than this are not stored. @default a quarter of `maxSize`, at most '8MB' */
  maxEntrySize?: Size
}

/**
 * The in-process store: a least-recently-used map bounded in bytes, on lru-cache. It answers
 * synchronously, so a hit costs no timer and no Promise. Entries are held as objects (not
 * serialized bytes), and the engine caches the decoded value per entry, so a hit decodes nothing:
 * values handed out are shared between callers and must be treated as read-only. That decoded
 * form is counted against `maxSize` with the entry (see `entrySize`), so the bound is on memory
 * really held. Keys are JavaScript strings, kept as they are: distinct keys never collide.
 */
export class MemoryStore implements CacheStore {
  readonly name = 'memory'
  readonly maxSize: number
  readonly maxEntrySize: number
  #lru: LRUCache<string, StoredEntry>
  // Locks for caches sharing this store in one process (`getOrSet({ lock: true })`).
  readonly #locks = new Map<string, { token: object; expiresAt: number }>()
  // Memory for the route cache's stored responses (see slabs.ts), and who to tell when one moves.
  readonly #slabs: Slabs
  readonly #relocationListeners = new Set<(entry: StoredEntry) => void>()
  #clearing = false

  constructor(options: MemoryStoreOptions = {}) {
    this.maxSize = toBytes(options.maxSize ?? '64MB', 'maxSize')
    if (this.maxSize < 1024) this.maxSize = 1024
    this.maxEntrySize = Math.min(
      toBytes(
        options.maxEntrySize ?? Math.min(Math.floor(this.maxSize / 4), 8 * 1024 * 1024),
        'maxEntrySize',
      ),
      this.maxSize,
    )
    this.#slabs = new Slabs(this.maxSize, (entry) => {
      for (const listener of this.#relocationListeners) listener(entry)
    })
    this.#lru = new LRUCache<string, StoredEntry>({
      maxSize: this.maxSize,
      maxEntrySize: this.maxEntrySize,
      sizeCalculation: (entry, key) => entrySize(key, entry),
      // Expired entries are dropped when read or evicted; no timer per entry.
      ttlAutopurge: false,
      dispose: (entry) => this.#slabs.release(entry, !this.#clearing),
    })
  }

  /** Bytes currently held, as counted against `maxSize`. */
  get size(): number {
    return this.#lru.calculatedSize
  }

  /** Number of entries held (expired ones not yet evicted included). */
  get entries(): number {
    return this.#lru.size
  }

  /**
   * @internal Memory for a value this store will hold: a view on a shared chunk (see slabs.ts).
   * Used by the route cache for the responses it stores.
   */
  allocate(size: number): Buffer {
    return this.#slabs.allocate(size)
  }

  /**
   * @internal `listener` is called with each held entry whose value this store moved to other
   * memory (in place: `entry.value` is a new view with the same bytes). Whoever keeps views on the
   * old value (a decoded form) should take them from the new one. Answers the function that
   * removes the listener (a store shared by several apps outlives each of them).
   */
  onRelocate(listener: (entry: StoredEntry) => void): () => void {
    const own = (entry: StoredEntry) => listener(entry)
    this.#relocationListeners.add(own)
    return () => this.#relocationListeners.delete(own)
  }

  /** @internal Bytes copied so far to compact the chunks values live in. */
  get relocatedBytes(): number {
    return this.#slabs.relocatedBytes
  }

  get(key: string): StoredEntry | undefined {
    return this.#lru.get(key)
  }

  getMany(keys: readonly string[]): Array<StoredEntry | undefined> {
    const out = new Array<StoredEntry | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) out[i] = this.#lru.get(keys[i]!)
    return out
  }

  set(key: string, entry: StoredEntry, ttlMs: number): void {
    // lru-cache skips (and evicts any older value of) entries over maxEntrySize by itself.
    this.#lru.set(key, entry, { ttl: Math.max(1, Math.ceil(ttlMs)) })
    // Not held when over maxEntrySize: lru-cache did not take it.
    if (this.#lru.peek(key) === entry) this.#slabs.track(entry)
  }

  add(key: string, entry: StoredEntry, ttlMs: number): boolean {
    // lru-cache's get honours the TTL: an expired entry counts as absent.
    if (this.#lru.get(key) !== undefined) return false
    this.set(key, entry, ttlMs)
    return true
  }

  delete(key: string): boolean {
    return this.#lru.delete(key)
  }

  deleteMany(keys: readonly string[]): number {
    let n = 0
    for (const key of keys) if (this.#lru.delete(key)) n++
    return n
  }

  clear(prefix: string): void {
    if (prefix === '') {
      this.#clearAll()
      return
    }
    for (const key of [...this.#lru.keys()]) if (key.startsWith(prefix)) this.#lru.delete(key)
  }

  lock(key: string, ttlMs: number): StoreLock | undefined {
    const now = Date.now()
    const held = this.#locks.get(key)
    if (held !== undefined && held.expiresAt > now) return undefined
    if (this.#locks.size >= 1000) {
      for (const [k, lock] of this.#locks) if (lock.expiresAt <= now) this.#locks.delete(k)
    }
    const token = {}
    this.#locks.set(key, { token, expiresAt: now + ttlMs })
    return {
      release: () => {
        if (this.#locks.get(key)?.token === token) this.#locks.delete(key)
      },
    }
  }

  close(): void {
    this.#clearAll()
    this.#locks.clear()
  }

  #clearAll(): void {
    // Nothing to compact when everything goes.
    this.#clearing = true
    try {
      this.#lru.clear()
    } finally {
      this.#clearing = false
    }
    this.#slabs.reset()
  }
}
