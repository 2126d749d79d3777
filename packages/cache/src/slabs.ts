import type { StoredEntry } from './store.js'

// Where the memory store keeps the bytes of route responses: views on 1 MB chunks, not one
// allocation per entry. Hand-written because of what the process's resident memory does, not
// what the heap statistics say (docs/caching.md, "Memory and size limits", has the figures):
//
// - A Buffer of its own per entry (Buffer.allocUnsafeSlow) is a malloc of a few KB. Entries
//   evicted from the LRU are freed only by V8's next full collection, which V8 starts once about
//   64 MB of such external memory has accumulated: glibc's heap grows to live + garbage, and it
//   can only give memory back from its top, which the newest entries occupy. Measured on Node 20,
//   100,000 distinct URLs on a 64 MB store: the malloc heap grew by 112 MB for 40 MB of live
//   entries, RSS by 150-170 MB.
// - A chunk is a resizable ArrayBuffer: V8 reserves those with its own page allocator (mmap), not
//   with malloc, and unmaps them when they are collected. A chunk whose entries are all gone is
//   returned to the system whole, and the malloc heap only sees short-lived garbage, which it
//   trims. Same load: malloc heap +2 MB, RSS +84 MB right after the load, +62 MB once V8 has
//   shrunk its young generation (a few seconds idle).
//
// What pins a chunk: any view on it, that is the stored entries' values, the decoded responses
// the route cache keeps beside them (bodies are views), and responses being written. So a chunk
// with a few long-lived (hot) entries left would stay whole. A chunk other than the current one
// that falls below half live is queued; once `maxSize / 4` more bytes of chunks have been taken
// since, whatever is still live in it is copied to the current chunk (the entry objects are
// updated in place, so the LRU order is kept) and the owner is told, to rebuild its decoded
// forms; the old chunk is unreachable once in-flight writes finish. The wait is what keeps the
// copying cheap: under ordinary churn the least recently used entries are evicted in the order
// they were stored, so a chunk going sparse is emptied by evictions within the wait, and nothing
// is copied (copying at once measured 57 MB of chunks for 40 MB of entries, against 40 MB). What
// is counted against maxSize stays each entry's own bytes.
// Entries above CHUNK / 8 get an allocation of their own (large ones are mmap'd by malloc anyway).

/** Bytes per chunk. */
export const CHUNK = 1024 * 1024
const LARGE = CHUNK / 8

interface Chunk {
  readonly buffer: ArrayBuffer
  live: number
  readonly entries: Set<StoredEntry>
  /** When it went below half live, in bytes of chunks taken so far; -1 while not queued. */
  sparseAt: number
}

// Resizable ArrayBuffers (ES2024; Node 20 has them) are what V8 maps itself. Without them (not
// expected on supported Node versions), plain chunks: fewer, larger mallocs still fragment less.
const resizable = typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === 'function'
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer

function newChunk(): ArrayBuffer {
  return resizable ? new ResizableArrayBuffer(CHUNK, { maxByteLength: CHUNK }) : new ArrayBuffer(CHUNK)
}

export class Slabs {
  readonly #chunks = new WeakMap<ArrayBuffer, Chunk>()
  #current: Chunk | undefined
  #used = 0
  /** Bytes of chunks taken so far. */
  #taken = 0
  readonly #wait: number
  readonly #sparse: Chunk[] = []
  #compacting = false
  readonly #relocated: (entry: StoredEntry) => void
  /** Bytes copied by compaction (for tests and figures). */
  relocatedBytes = 0

  /**
   * `maxSize`: the owner's bound (sets how long a sparse chunk waits). `relocated` is called for
   * each entry whose value moved to another chunk.
   */
  constructor(maxSize: number, relocated: (entry: StoredEntry) => void) {
    this.#wait = Math.max(CHUNK, Math.floor(maxSize / 4))
    this.#relocated = relocated
  }

  /** Memory for a value of `size` bytes: a view on the current chunk, or its own for a large one. */
  allocate(size: number): Buffer {
    if (size > LARGE) return Buffer.allocUnsafeSlow(size)
    let chunk = this.#current
    if (chunk === undefined || this.#used + size > CHUNK) {
      chunk = { buffer: newChunk(), live: 0, entries: new Set(), sparseAt: -1 }
      this.#chunks.set(chunk.buffer, chunk)
      this.#current = chunk
      this.#used = 0
      this.#taken += CHUNK
      this.#compact()
      // Compaction may have filled that chunk and taken another.
      chunk = this.#current
      if (this.#used + size > CHUNK) return this.allocate(size)
    }
    const view = Buffer.from(chunk.buffer, this.#used, size)
    // 8-byte aligned, as malloc would.
    this.#used += (size + 7) & ~7
    return view
  }

  /** The store took `entry`: its value counts as live in its chunk, if it has one. */
  track(entry: StoredEntry): void {
    const value = entry.value
    if (typeof value === 'string') return
    const chunk = this.#chunks.get(value.buffer as ArrayBuffer)
    if (chunk === undefined || chunk.entries.has(entry)) return
    chunk.entries.add(entry)
    chunk.live += value.byteLength
  }

  /** The store let go of `entry`. `compact`: queue its chunk if now under half live. */
  release(entry: StoredEntry, compact: boolean): void {
    const value = entry.value
    if (typeof value === 'string') return
    const chunk = this.#chunks.get(value.buffer as ArrayBuffer)
    if (chunk === undefined || !chunk.entries.delete(entry)) return
    chunk.live -= value.byteLength
    if (chunk.live === 0 && chunk.sparseAt >= 0) {
      // Emptied while it waited: nothing to copy, and the queue must not keep it alive.
      this.#sparse.splice(this.#sparse.indexOf(chunk), 1)
      return
    }
    if (compact && chunk.sparseAt < 0 && chunk !== this.#current && chunk.live * 2 < CHUNK) {
      chunk.sparseAt = this.#taken
      this.#sparse.push(chunk)
    }
  }

  /** Copies what is still live in chunks sparse for long enough to the current chunk. */
  #compact(): void {
    if (this.#compacting) return
    this.#compacting = true
    try {
      while (this.#sparse.length > 0 && this.#sparse[0]!.sparseAt + this.#wait <= this.#taken) {
        const chunk = this.#sparse.shift()!
        if (chunk.live === 0) continue
        const left = [...chunk.entries]
        chunk.entries.clear()
        chunk.live = 0
        for (const moved of left) {
          const old = moved.value as Uint8Array
          const copy = this.allocate(old.byteLength)
          copy.set(old)
          this.relocatedBytes += old.byteLength
          // In place: the LRU holds this very object (a new one would change its recency).
          ;(moved as { value: Uint8Array }).value = copy
          this.track(moved)
          this.#relocated(moved)
        }
      }
    } finally {
      this.#compacting = false
    }
  }

  /** Forgets every chunk (the store was cleared). */
  reset(): void {
    this.#current = undefined
    this.#used = 0
    this.#sparse.length = 0
  }
}
