import { hash } from 'node:crypto'
import { LRUCache } from 'lru-cache'

// The memo of compressed outputs: an uncached route that returns the same JSON again and again
// (a config endpoint, a product list between two updates) gets it compressed once.
//
// Keyed by a SHA-256 of the body's bytes plus the codec settings, never by URL: two URLs with the
// same body share an entry, and one URL whose body changed can never be served the old compressed
// bytes (that would need a SHA-256 collision). Hashing is the price every compressed response pays
// for it, so it was measured against compression itself (docs/compression.md): SHA-256 runs at
// 0.8–2 GB/s here (SHA-NI), brotli at the default quality at 0.1–0.3 GB/s, so a memo miss costs a
// few percent more than no memo, and a hit costs a few percent of a compression.
//
// Bounded in bytes (lru-cache's `maxSize`): the least recently used outputs go first.
//
// Routes whose bodies never repeat (a timestamp or a request id in every body) would pay the hash on
// every response for nothing, and churn the map (measured on the 20 KB bench body: +10–14 µs of
// hashing and +10 µs of garbage collection per response, a fifth of what brotli 3 costs). So each
// route has a MemoSampler: after WARM_WINDOW lookups without a single hit the route goes cold and
// only one response in COLD_SAMPLE_EVERY is looked up (and stored); the first hit makes it warm
// again. A route that starts repeating a body is noticed within two samples.

/** Lookups without a hit after which a route stops hashing every body. */
const WARM_WINDOW = 64
/** A cold route still looks up (and stores) one response in this many. */
const COLD_SAMPLE_EVERY = 16

/**
 * Per-route decision whether a body goes through the memo (see the top of this file). One per
 * route, kept by the route's compression hook; `null` where no route is known (`reply.compress()`),
 * which always uses the memo.
 */
export class MemoSampler {
  #lookups = 0
  #hits = 0
  #cold = false
  #sinceSample = 0

  /** Whether this response's body should be hashed and looked up. */
  shouldLookUp(): boolean {
    if (!this.#cold) return true
    if (++this.#sinceSample < COLD_SAMPLE_EVERY) return false
    this.#sinceSample = 0
    return true
  }

  /** Records the outcome of a lookup. */
  record(hit: boolean): void {
    if (hit) {
      this.#hits++
      if (this.#cold) {
        this.#cold = false
        this.#lookups = 0
        this.#hits = 0
        return
      }
    }
    if (this.#cold) return
    if (++this.#lookups < WARM_WINDOW) return
    this.#cold = this.#hits === 0
    this.#lookups = 0
    this.#hits = 0
  }

  /** Whether the route currently samples instead of looking every body up. */
  get cold(): boolean {
    return this.#cold
  }
}

/** Bytes an entry costs beyond its compressed body: the key string and lru-cache's bookkeeping. */
const ENTRY_OVERHEAD = 96

/** Counters of a {@link CompressionMemo}. */
export interface MemoStats {
  /** Compressions avoided. */
  readonly hits: number
  /** Bodies compressed (and stored when they fit). */
  readonly misses: number
  /** Entries held now. */
  readonly entries: number
  /** Bytes held now (compressed bodies plus per-entry overhead). */
  readonly bytes: number
}

/** A bounded map from (codec settings, SHA-256 of a body) to its compressed bytes. */
export class CompressionMemo {
  readonly #lru: LRUCache<string, Buffer>
  #hits = 0
  #misses = 0
  /** Whether the last {@link compress} call was answered from the memo. */
  lastWasHit = false

  /**
   * @param maxSize total bytes kept.
   * @param maxEntrySize largest compressed body kept; larger ones are compressed every time.
   */
  constructor(maxSize: number, maxEntrySize: number) {
    this.#lru = new LRUCache<string, Buffer>({
      maxSize,
      maxEntrySize: Math.min(maxEntrySize + ENTRY_OVERHEAD, maxSize),
      sizeCalculation: (value, key) => value.length + key.length + ENTRY_OVERHEAD,
    })
  }

  /**
   * The compressed form of `body` under `settingsId`, from the memo or from `compress(body)`.
   * `settingsId` must change whenever the codec or any of its settings does.
   */
  compress(settingsId: string, body: Buffer, compress: (body: Buffer) => Buffer): Buffer {
    const key = `${settingsId}:${hash('sha256', body, 'base64')}`
    const known = this.#lru.get(key)
    if (known !== undefined) {
      this.#hits++
      this.lastWasHit = true
      return known
    }
    this.#misses++
    this.lastWasHit = false
    const out = compress(body)
    this.#lru.set(key, out)
    return out
  }

  stats(): MemoStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
    }
  }

  clear(): void {
    this.#lru.clear()
  }
}
