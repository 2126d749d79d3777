import { randomBytes } from 'node:crypto'

/** The three memcached operations generations need, each bounded by the store's timeout. */
export interface GenerationIo {
  read(key: string): Promise<Buffer | null>
  /** memcached `add`: true when created, false when the key exists. */
  add(key: string, value: Buffer, expires: number): Promise<boolean>
  write(key: string, value: Buffer, expires: number): Promise<void>
}

/**
 * What a caller memoizing keys per generation reads of a namespace: a key built with `gen` stays
 * right while `gen` is unchanged. `gen` becomes `undefined` when the namespace is forgotten (its
 * record is then dropped, and a new one is read on the next use), so no memo outlives it.
 */
export interface GenerationState {
  readonly gen: string | undefined
  /** Set on every use; a namespace unused for a minute is forgotten. */
  used: boolean
}

interface Namespace extends GenerationState {
  /** The generation in use; `undefined` until the first read answered. */
  gen: string | undefined
  /** The first read, shared by every operation waiting for it. */
  loading: Promise<string> | undefined
  refreshing: boolean
  /** Bumped by `renew()`, so a read that started earlier cannot bring the old generation back. */
  epoch: number
  /** Used since the last refresh tick; namespaces idle for a minute are forgotten. */
  used: boolean
  idleTicks: number
}

const GENERATION = /^[A-Za-z0-9_-]{1,32}$/
// How long an unused namespace keeps being refreshed before the store forgets it (its next use
// reads the generation again, one round trip).
const IDLE_FORGET_MS = 60_000
// Generation records must outlive every entry of their namespace, and memjs cannot send 0
// ("never") reliably: it writes `expires || clientDefault`. So they get an absolute expiry ten
// years ahead (memcached reads an expiry above 30 days as a Unix time), and live until then or
// until evicted, which a record read every second by every instance practically never is.
const RECORD_LIFETIME_S = 10 * 365 * 86_400

/**
 * Per-namespace generations: how `MemcachedStore` implements `clear(prefix)` on a server that
 * cannot list keys.
 *
 * The namespace of a key is its first ':'-separated segment (`cache` for `cache:k:user`). Each
 * namespace has a generation (8 random base64url characters) in a memcached record, and the
 * generation is part of every real key of that namespace. `renew()` writes a new random
 * generation, after which the old keys are unreachable and expire on their own.
 *
 * The generation is cached in-process. The first operation on a namespace waits for one read of
 * the record (shared by all concurrent callers); after that a timer re-reads every known
 * namespace each `refreshMs` in the background, so a `renew()` made by another instance is seen
 * here within about `refreshMs`, and never costs a request anything.
 */
export class Generations {
  readonly #io: GenerationIo
  readonly #recordKey: (segment: string) => string
  readonly #refreshMs: number
  readonly #idleTicks: number
  readonly #namespaces = new Map<string, Namespace>()
  readonly #onChange: () => void
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /** @param onChange called whenever a known generation is replaced by another or forgotten. */
  constructor(
    io: GenerationIo,
    recordKey: (segment: string) => string,
    refreshMs: number,
    onChange: () => void = () => {},
  ) {
    this.#io = io
    this.#recordKey = recordKey
    this.#refreshMs = refreshMs
    this.#idleTicks = Math.max(1, Math.ceil(IDLE_FORGET_MS / refreshMs))
    this.#onChange = onChange
  }

  /**
   * The state of a namespace already in use (after {@link current} answered it synchronously):
   * a caller may keep keys built with its `gen` for as long as `gen` stays the same.
   */
  state(segment: string): GenerationState | undefined {
    return this.#namespaces.get(segment)
  }

  /** The generation of `segment`: synchronously once known, else a Promise of its first read. */
  current(segment: string): string | Promise<string> {
    const ns = this.#namespace(segment)
    ns.used = true
    if (ns.gen !== undefined) return ns.gen
    if (ns.loading === undefined) ns.loading = this.#firstLoad(segment, ns)
    return ns.loading
  }

  /** Gives `segment` a new generation: every key written under the old one becomes unreachable. */
  async renew(segment: string): Promise<void> {
    const gen = newGeneration()
    // In use here at once, before the record's write is answered: a read issued right after this
    // call (the same tick) must not find the entries of the old generation (it would reach
    // memcached before the write, with keys of the old generation). A refresh that starts now
    // reads the record after this write on the same connection; one that started before is
    // ignored (the epoch).
    const ns = this.#namespace(segment)
    const previous = ns.gen
    ns.epoch++
    this.#set(ns, gen)
    try {
      await this.#io.write(this.#recordKey(segment), Buffer.from(gen), recordExpiry())
    } catch (error) {
      // Not taken: back to the generation every other instance still uses. The caller keeps the
      // clear as a debt, which hides the old entries here until it is replayed.
      if (ns.gen === gen) {
        ns.epoch++
        if (previous === undefined) ns.gen = undefined
        else this.#set(ns, previous)
      }
      throw error
    }
  }

  /** Stops the refresh timer. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const ns of this.#namespaces.values()) ns.gen = undefined
    this.#namespaces.clear()
    this.#onChange()
  }

  /** Sets a namespace's generation, telling `onChange` when it replaces another. */
  #set(ns: Namespace, gen: string): void {
    const previous = ns.gen
    ns.gen = gen
    if (previous !== undefined && previous !== gen) this.#onChange()
  }

  #namespace(segment: string): Namespace {
    let ns = this.#namespaces.get(segment)
    if (ns === undefined) {
      ns = { gen: undefined, loading: undefined, refreshing: false, epoch: 0, used: true, idleTicks: 0 }
      this.#namespaces.set(segment, ns)
      this.#arm()
    }
    return ns
  }

  async #firstLoad(segment: string, ns: Namespace): Promise<string> {
    const epoch = ns.epoch
    try {
      const gen = await this.#fetch(segment)
      if (ns.epoch === epoch) this.#set(ns, gen)
      return ns.gen ?? gen
    } finally {
      // On failure the next operation tries again (the server may be back by then).
      ns.loading = undefined
    }
  }

  /** Reads the record, creating it when absent; two instances racing agree through `add`. */
  async #fetch(segment: string): Promise<string> {
    const key = this.#recordKey(segment)
    const found = parse(await this.#io.read(key))
    if (found !== undefined) return found
    // Absent: never written, evicted, or the server restarted empty. A new generation is right
    // in each case (whatever the old one named is gone or must be treated as gone).
    const created = newGeneration()
    if (await this.#io.add(key, Buffer.from(created), recordExpiry())) return created
    const winner = parse(await this.#io.read(key))
    if (winner !== undefined) return winner
    // The record holds something that is not a generation (or vanished again): replace it.
    await this.#io.write(key, Buffer.from(created), recordExpiry())
    return created
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return
    // Unref'd: the refresh never keeps a process alive on its own.
    this.#timer = setTimeout(() => this.#tick(), this.#refreshMs).unref()
  }

  #tick(): void {
    this.#timer = undefined
    for (const [segment, ns] of this.#namespaces) {
      if (ns.used) ns.idleTicks = 0
      else if (++ns.idleTicks >= this.#idleTicks && ns.loading === undefined && !ns.refreshing) {
        this.#namespaces.delete(segment)
        // Forgotten: keys memoized under its generation must not be used without a new read.
        if (ns.gen !== undefined) {
          ns.gen = undefined
          this.#onChange()
        }
        continue
      }
      ns.used = false
      // Not known yet: the first read is in flight (or failed and the next operation retries).
      if (ns.gen === undefined || ns.refreshing) continue
      ns.refreshing = true
      const epoch = ns.epoch
      this.#fetch(segment).then(
        (gen) => {
          if (ns.epoch === epoch && ns.gen !== undefined) this.#set(ns, gen)
          ns.refreshing = false
        },
        // A failed refresh keeps the generation we have: the store is down, and the engine sees
        // that on its own operations.
        () => {
          ns.refreshing = false
        },
      )
    }
    if (this.#namespaces.size > 0) this.#arm()
  }
}

function newGeneration(): string {
  return randomBytes(6).toString('base64url')
}

function parse(record: Buffer | null): string | undefined {
  if (record === null) return undefined
  const text = record.toString('latin1')
  return GENERATION.test(text) ? text : undefined
}

function recordExpiry(): number {
  return Math.floor(Date.now() / 1000) + RECORD_LIFETIME_S
}
