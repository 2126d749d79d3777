import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { RouteBackend } from '../cache.js'
import { isPromise, type MaybePromise, type StoredEntry } from '../store.js'
import type { AcceptEncodingKey } from './accept-encoding.js'
import { lp } from './key.js'
import { CachedResponse, decodeStored, encodeVariantRecord, VariantRecord } from './response-codec.js'
import { VARY_TOO_LARGE, varySuffix } from './vary.js'

// Where a URL's responses live in the store, and how they are found, replaced and invalidated.
//
// Under `<namespace>:r:`, a URL (see key.ts) has one slot, `<urlKey>`. The slot holds either
// - the response itself, when the URL's responses vary on nothing: one read per hit; or
// - a variant record: the request header names the responses vary on, and the URL's current
//   GENERATION, a random name. The variants live in `maxVariants` variant slots of that
//   generation, `<urlKey>v<generation>:<n>`, each holding one response and the variant key it
//   answers. A variant goes to one of two slots chosen by a hash of its variant key (seeded by
//   the generation), and a reader checks the variant key it finds there.
//
// Why this layout: the store contract has no atomic list operations, and the previous layout
// (a record listing every variant, rewritten by each writer) lost variants to concurrent
// read-modify-writes on Redis and Memcached: a lost variant was still found by lookups but no
// longer deleted by invalidation, so it was served stale after a write. Here:
// - adding a variant never writes the record: writers of different variants touch different
//   keys, or race for one slot, where the loser's variant is simply not cached (a miss later,
//   never a wrong or stale body, since the reader checks the variant key);
// - invalidating a URL is ONE delete, of its slot: the next writer starts a new generation, and
//   every variant of the old one is unreachable at once, however many there were, even those a
//   concurrent writer was still adding; the old generation's slots are deleted in the background
//   as a courtesy and otherwise expire;
// - `maxVariants` is a hard bound on every store under any concurrency: a generation has that
//   many variant slots and no more. A full set of slots evicts the least recently used of a new
//   variant's two candidates (used: served by this process, or else written), so junk values
//   cannot switch caching off for real clients, nor push out a variant they keep asking for.
// Two-choice placement is what keeps a few live variants from colliding: with one hash, 4
// variants in 32 slots collide 18 % of the time and then evict each other forever; with the
// better of two slots, a collision needs three variants on the same pair.

/** A variant record lives at least this long: its expiry starts a new generation (one miss per variant). */
const RECORD_MIN_TTL_MS = 10 * 60_000

/** In-process invalidations remembered for the fence (see {@link VariantStore.fence}). */
const FENCE_SIZE = 10_000

/** Keys whose decoded remote entry is remembered (see {@link VariantStore.decodeRemote}). */
const REMOTE_MEMO_SIZE = 1024

/** Whether two stored values are the same bytes. */
function sameBytes(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** FNV-1a over a string's UTF-16 code units, 32 bits. Placement only: no secret is involved. */
function fnv1a(text: string, seed: number): number {
  let hash = seed
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** What a writer knows of a URL's slot from its own lookup (see `Lookup`). */
export interface SlotView {
  /** The variant record found in the slot, if any. */
  readonly record: VariantRecord | undefined
  /** The slot held something other than a record (a plain response, or a value we cannot read). */
  readonly occupied: boolean
  /** The variant slot the lookup chose for this request's variant (of `record`'s generation). */
  readonly target: string | undefined
}

/** Where a response is to be written. */
export interface Placement {
  readonly key: string
  /** The variant key the response answers (`''` for a plain response in the URL's slot). */
  readonly variant: string
}

/** The storage of route responses and their variants; see the comment at the top of this file. */
/**
 * A response this process committed whose store write has not been acknowledged yet (see
 * {@link VariantStore.land}).
 */
export interface Landing {
  readonly slotKey: string
  /** The response's own `Vary` names, lower-case, sorted. */
  readonly names: readonly string[]
  /** The variant key the request that produced it had under those names (dims included). */
  readonly variant: string
  readonly entry: StoredEntry
  readonly response: CachedResponse
  /** `performance.now()` until which it answers: Infinity while its write is on its way. */
  until: number
}

/** Variant slots whose last use is remembered; the oldest is forgotten first (it then counts as written). */
const USED_SIZE = 10_000

/** Landings kept at most: past it, new ones are not kept (a miss, never a wrong answer). */
const LANDING_SIZE = 4096

export class VariantStore {
  readonly backend: RouteBackend
  readonly prefix: string
  readonly maxVariants: number
  readonly maxVaryValueLength: number
  // Decoded form of each entry object a synchronous store hands out: a memory-store hit decodes nothing.
  readonly #decoded = new WeakMap<StoredEntry, CachedResponse | VariantRecord | null>()
  readonly #remoteDecoded = new Map<
    string,
    { entry: StoredEntry; value: string | Uint8Array; decoded: CachedResponse | VariantRecord }
  >()
  readonly #seed = randomBytes(6).toString('base64url')
  #counter = 0
  // The fence: invalidations this process sent, by slot key, numbered.
  #sequence = 0
  readonly #fences = new Map<string, number>()
  #fenceFloor = 0
  // When this process last served each variant slot (epoch ms), most recent last: a full variant
  // set evicts the least recently used of a new variant's two candidates (see `pick`).
  readonly #used = new Map<string, number>()
  // Read your own writes: responses committed here whose store write is still on its way, by slot.
  readonly #landing = new Map<string, Landing[]>()
  // Landings whose write settled, in the order they settled (and so of their `until`).
  readonly #settled: Landing[] = []
  /** How many landings are kept: lookups that found nothing consult them only while there are some. */
  landingCount = 0

  constructor(backend: RouteBackend, maxVariants: number, maxVaryValueLength: number) {
    this.backend = backend
    this.prefix = backend.prefix
    this.maxVariants = maxVariants
    this.maxVaryValueLength = maxVaryValueLength
    // The memory store moved an entry's bytes (slabs.ts): the decoded form's body must be a view
    // on the new ones, or it would keep the old chunk alive. Rebuilt now, on the store's write
    // path, so the next hit still decodes nothing.
    backend.onRelocate((entry) => {
      const known = this.#decoded.get(entry)
      if (known instanceof CachedResponse) this.#decoded.set(entry, known.withBody(entry.value as Uint8Array))
    })
  }

  // --- layout ---------------------------------------------------------------------------------

  /** The two variant slots a variant key may live in, for a generation. */
  variantSlots(slotKey: string, generation: string, variant: string): readonly [string, string] {
    const base = `${slotKey}v${lp(generation)}`
    const n = this.maxVariants
    const first = fnv1a(variant, fnv1a(generation, 0x811c9dc5)) % n
    let second = fnv1a(variant, fnv1a(generation, 0x01000193) ^ 0x5bd1e995) % n
    if (second === first && n > 1) second = (first + 1) % n
    return [base + first, base + second]
  }

  /**
   * The variant key of a request under a record: the route's dimensions, then the `Vary` headers
   * (`route`: how the route reads `Accept-Encoding`).
   */
  variantKey(
    record: VariantRecord,
    route: { readonly acceptEncoding: AcceptEncodingKey },
    dims: string,
    headers: IncomingHttpHeaders,
    maxValueLength = this.maxVaryValueLength,
  ): string | typeof VARY_TOO_LARGE {
    const vary = varySuffix(record.names, headers, maxValueLength, route.acceptEncoding)
    return vary === VARY_TOO_LARGE ? vary : dims + vary
  }

  /**
   * Of the two entries a lookup found in a variant's slots, the one answering `variant`, and
   * otherwise the slot a new response for it goes to: a free one, else the least recently used
   * occupant.
   */
  pick(
    slots: readonly [string, string],
    entries: ReadonlyArray<StoredEntry | undefined>,
    variant: string,
    remote: boolean,
  ): { found: StoredEntry | undefined; response: CachedResponse | undefined; target: string } {
    let free: string | undefined
    for (let i = 0; i < 2; i++) {
      const entry = entries[i]
      if (entry === undefined) {
        free ??= slots[i]
        continue
      }
      const response = this.response(slots[i]!, entry, remote)
      if (response !== undefined && response.variant === variant) {
        this.touch(slots[i]!)
        return { found: entry, response, target: slots[i]! }
      }
    }
    const target =
      free ??
      (this.#lastUse(slots[1]!, entries[1]!) < this.#lastUse(slots[0]!, entries[0]!) ? slots[1] : slots[0])
    return { found: undefined, response: undefined, target }
  }

  /**
   * A variant slot served a request. Recency is this process's own: no store keeps it, since an LRU
   * order in Redis or Memcached would cost a write per hit. Behind a load balancer each instance
   * protects the variants it serves; a variant that is hot anywhere is hot on most instances.
   */
  touch(slot: string): void {
    const used = this.#used
    used.delete(slot)
    // Sub-millisecond: a write's `createdAt` is whole milliseconds, and a use in the same
    // millisecond as the write it follows must still count as later (a tie evicted the used one).
    used.set(slot, performance.timeOrigin + performance.now())
    if (used.size > USED_SIZE) used.delete(used.keys().next().value!)
  }

  /** When a slot's variant was last used: served here, or else written. */
  #lastUse(slot: string, entry: StoredEntry): number {
    const used = this.#used.get(slot)
    return used === undefined || used < entry.createdAt ? entry.createdAt : used
  }

  // --- decoding -------------------------------------------------------------------------------

  /** The decoded form of an entry object, computed once per object. */
  decode(entry: StoredEntry): CachedResponse | VariantRecord | undefined {
    const known = this.#decoded.get(entry)
    if (known !== undefined) return known ?? undefined
    const decoded = decodeStored(entry.value) ?? null
    this.#decoded.set(entry, decoded)
    return decoded ?? undefined
  }

  /**
   * The decoded form of an entry object if this process decoded or built it already, without
   * decoding (the edge path serves only objects the normal path handled).
   */
  known(entry: StoredEntry): CachedResponse | VariantRecord | undefined {
    return this.#decoded.get(entry) ?? undefined
  }

  /** Remembers the decoded form of an entry object this process built. */
  remember(entry: StoredEntry, decoded: CachedResponse | VariantRecord): void {
    this.#decoded.set(entry, decoded)
  }

  /** Decodes an entry read from `key`: per object from a synchronous store, per key from a remote one. */
  read(key: string, entry: StoredEntry, remote: boolean): CachedResponse | VariantRecord | undefined {
    return remote ? this.decodeRemote(key, entry) : this.decode(entry)
  }

  response(key: string, entry: StoredEntry, remote: boolean): CachedResponse | undefined {
    const decoded = remote ? this.decodeRemote(key, entry) : this.decode(entry)
    return decoded instanceof CachedResponse ? decoded : undefined
  }

  /**
   * Decodes an entry read asynchronously from a remote store. Every such read hands out a new
   * object, so the per-object memo never hits (and filling a WeakMap per hit is garbage collector
   * work); this memo remembers the last decoded form per key instead. It is reused for the same
   * entry object (every caller of a joined read gets the same one) and for a new object with the
   * same bytes (a later read of an entry the store still holds): the decoded form is a function of
   * the bytes alone, so a byte comparison (a memcmp, against a decode) is exact, where comparing
   * timestamps and sizes could take two writes of one millisecond for one.
   */
  decodeRemote(key: string, entry: StoredEntry): CachedResponse | VariantRecord | undefined {
    const known = this.#remoteDecoded.get(key)
    if (known !== undefined) {
      if (known.entry === entry) return known.decoded
      if (sameBytes(known.value, entry.value)) {
        known.entry = entry
        return known.decoded
      }
    }
    const decoded = decodeStored(entry.value)
    if (decoded === undefined) return undefined
    // Bounded, oldest first out: a memo, not a second cache.
    if (known === undefined && this.#remoteDecoded.size >= REMOTE_MEMO_SIZE) {
      this.#remoteDecoded.delete(this.#remoteDecoded.keys().next().value!)
    }
    this.#remoteDecoded.set(key, { entry, value: entry.value, decoded })
    return decoded
  }

  // --- the fence ------------------------------------------------------------------------------

  /**
   * The current fence number: a miss takes it when its handler starts (see {@link fenced}).
   */
  get sequence(): number {
    return this.#sequence
  }

  /**
   * Marks `slotKey` as invalidated by this process now, before the delete is sent. A response
   * whose handler started before this point may hold data from before the write that caused the
   * invalidation; if its store write were sent after the delete, it would put that old body back
   * (into a new generation, if the slot was empty). {@link fenced} tells such a writer to skip.
   * Bounded: when the oldest fence is forgotten, every miss started before it counts as fenced
   * (a skipped write, never a stale entry).
   */
  fence(slotKey: string): void {
    const landing = this.#landing.get(slotKey)
    if (landing !== undefined) {
      this.#landing.delete(slotKey)
      this.landingCount -= landing.length
    }
    const n = ++this.#sequence
    this.#fences.delete(slotKey)
    this.#fences.set(slotKey, n)
    if (this.#fences.size > FENCE_SIZE) {
      const oldest = this.#fences.entries().next().value!
      this.#fences.delete(oldest[0])
      this.#fenceFloor = oldest[1]
    }
  }

  /** Whether a miss whose handler started at fence number `since` must not write to `slotKey`. */
  fenced(slotKey: string, since: number): boolean {
    if (since >= this.#sequence) return false
    return since < this.#fenceFloor || (this.#fences.get(slotKey) ?? 0) > since
  }

  // --- read your own writes ------------------------------------------------------------------

  /**
   * Keeps a committed response answerable by this process until its store write settles.
   *
   * A remote store holds a response only once its write lands: one round trip for a plain URL, two
   * or three when a variant record is placed first. A client that sends its next request as soon as
   * it has the response (a page and then its assets, a test suite, a retry) would miss, and the
   * origin would render the same response again. Here the lookup that found nothing asks the
   * responses still landing, by the `Vary` names each response gave (RFC 9111 §4.1 selects a stored
   * response by its own Vary), and serves a match through the normal hit decision: freshness,
   * request directives and tags are judged as for a stored entry. An invalidation of the URL drops
   * them with the fence. Answers `undefined` when the bound is reached.
   */
  land(
    slotKey: string,
    names: readonly string[],
    variant: string,
    entry: StoredEntry,
    response: CachedResponse,
  ): Landing | undefined {
    if (this.landingCount >= LANDING_SIZE) return undefined
    this.#dropDue(performance.now())
    const landing: Landing = { slotKey, names, variant, entry, response, until: Number.POSITIVE_INFINITY }
    const list = this.#landing.get(slotKey)
    if (list === undefined) this.#landing.set(slotKey, [landing])
    else list.push(landing)
    this.landingCount++
    return landing
  }

  /**
   * The store write of `landing` settled. Written, it stays kept for one more store budget: a
   * lookup whose read went out before the write landed can still answer "not there" after it
   * settled, and must find the landing then (reads sent later never use it: see findLanding). An
   * invalidation of the URL drops it as before.
   */
  landed(landing: Landing, hold: boolean): void {
    // Not written (fenced, refused, the store failed): the store will not answer with it. Written to
    // a synchronous store: no read can have been overtaken.
    if (!hold) {
      this.#drop(landing)
      return
    }
    landing.until = this.backend.deadline()
    this.#settled.push(landing)
    this.#dropDue(performance.now())
  }

  /** Drops the settled landings whose time is up (they settle in order, with one budget each). */
  #dropDue(now: number): void {
    const settled = this.#settled
    let due = 0
    while (due < settled.length && settled[due]!.until <= now) due++
    if (due > 0) for (const old of settled.splice(0, due)) this.#drop(old)
  }

  #drop(landing: Landing): void {
    const list = this.#landing.get(landing.slotKey)
    const index = list === undefined ? -1 : list.indexOf(landing)
    if (index === -1) return
    list!.splice(index, 1)
    if (list!.length === 0) this.#landing.delete(landing.slotKey)
    this.landingCount--
  }

  /**
   * The newest response still landing at `slotKey` that this request selects, if any. `readDeadline`
   * is the deadline of the store read that found nothing (its start plus one store budget): a
   * landing answers only reads sent before its write settled. A read sent after that found the
   * slot empty because something removed it since (another instance's invalidation, which this
   * process's fence never saw): the store is right, and the old response must not come back.
   */
  findLanding(
    slotKey: string,
    route: { readonly acceptEncoding: AcceptEncodingKey },
    dims: string,
    headers: IncomingHttpHeaders,
    readDeadline: number,
  ): Landing | undefined {
    const list = this.#landing.get(slotKey)
    if (list === undefined) return undefined
    const now = performance.now()
    for (let i = list.length - 1; i >= 0; i--) {
      const landing = list[i]!
      // `until` is the settle time plus one budget: the same budget as the read's deadline.
      if (landing.until <= now || readDeadline > landing.until) continue
      if (this.localVariant(landing.names, route, dims, headers) === landing.variant) return landing
    }
    return undefined
  }

  /** The variant key of a request under a response's own `Vary` names (dims first, as `variantKey`). */
  localVariant(
    names: readonly string[],
    route: { readonly acceptEncoding: AcceptEncodingKey },
    dims: string,
    headers: IncomingHttpHeaders,
  ): string | typeof VARY_TOO_LARGE {
    if (names.length === 0) return dims
    const vary = varySuffix(names, headers, this.maxVaryValueLength, route.acceptEncoding)
    return vary === VARY_TOO_LARGE ? vary : dims + vary
  }

  // --- writing --------------------------------------------------------------------------------

  newGeneration(): string {
    return `${Date.now().toString(36)}.${this.#seed}.${(this.#counter++).toString(36)}`
  }

  recordEntry(record: VariantRecord, ttlMs: number): StoredEntry {
    const now = Date.now()
    const until = now + ttlMs
    const entry: StoredEntry = {
      value: encodeVariantRecord(record),
      createdAt: now,
      freshUntil: until,
      staleUntil: until,
      graceUntil: until,
      tags: [],
      tagVersions: [],
    }
    this.#decoded.set(entry, record)
    return entry
  }

  /**
   * Finds where a response goes, writing the URL's record first when it needs one:
   * - no names and no dimensions, and no record at lookup: the URL's own slot;
   * - a record at lookup that covers the names: its generation, no record write;
   * - otherwise a record is made: with set-if-absent when the slot was empty (concurrent first
   *   writers agree on one generation: the losers read the winner's and use it), or replacing
   *   what was there (a plain response, or a record with fewer names: its variants keyed by
   *   fewer headers are unreachable under the new generation and expire).
   * Answers `undefined` when the response is not to be written (fenced, a header too long, or
   * the store did not answer). `fenced` is asked before every store call.
   */
  async place(
    slotKey: string,
    view: SlotView,
    names: readonly string[],
    route: { readonly acceptEncoding: AcceptEncodingKey },
    dims: string,
    plain: boolean,
    headers: IncomingHttpHeaders,
    ttlMs: number,
    fenced: () => boolean,
  ): Promise<Placement | undefined> {
    let record = view.record
    if (plain && record === undefined) return { key: slotKey, variant: '' }
    const recordTtl = Math.max(2 * ttlMs, RECORD_MIN_TTL_MS)
    let target = view.target
    if (record === undefined || !covers(record.names, names)) {
      const wanted = new VariantRecord(
        record === undefined ? names : union(record.names, names),
        this.newGeneration(),
      )
      target = undefined
      const entry = this.recordEntry(wanted, recordTtl)
      if (fenced()) return undefined
      let added: boolean | undefined
      if (record === undefined && !view.occupied) {
        const answer = this.backend.add(slotKey, entry, recordTtl)
        added = isPromise(answer) ? await answer : answer
      }
      if (added === false) {
        // Another writer made the record first: use its generation when it covers our names.
        if (fenced()) return undefined
        const found = await this.backend.get(slotKey)
        const current = found === undefined ? undefined : this.decode(found)
        if (current instanceof VariantRecord && covers(current.names, names)) record = current
        else added = undefined
      }
      if (added !== false) {
        if (fenced()) return undefined
        if (added !== true && !(await this.backend.set(slotKey, entry, recordTtl))) return undefined
        record = wanted
      }
    }
    const variant = this.variantKey(record!, route, dims, headers, Number.MAX_SAFE_INTEGER)
    if (variant === VARY_TOO_LARGE) return undefined
    if (target === undefined) target = this.variantSlots(slotKey, record!.generation, variant)[0]
    return { key: target, variant }
  }

  /**
   * Invalidates a URL: one delete of its slot (through the engine, which keeps it as a debt and
   * replays it if the store cannot be reached). The old generation's variant slots are deleted
   * afterwards in the background, when the slot could be read before the delete.
   */
  invalidate(slotKey: string, track: (task: Promise<unknown>) => void): MaybePromise<boolean> {
    this.fence(slotKey)
    const deadline = this.backend.deadline()
    const before = this.backend.get(slotKey, deadline)
    const deleted = this.backend.deleteMany([slotKey], deadline)
    const sweep = (entry: StoredEntry | undefined) => {
      const record = entry === undefined ? undefined : decodeStored(entry.value)
      if (!(record instanceof VariantRecord)) return
      const base = `${slotKey}v${lp(record.generation)}`
      const keys: string[] = []
      for (let i = 0; i < this.maxVariants; i++) keys.push(base + i)
      const done = this.backend.deleteMany(keys)
      if (isPromise(done)) track(done)
    }
    if (isPromise(before)) track(before.then(sweep))
    else sweep(before)
    return deleted
  }
}

/** Whether every name of `b` is in `a`. */
function covers(a: readonly string[], b: readonly string[]): boolean {
  for (const name of b) if (!a.includes(name)) return false
  return true
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  return [...new Set([...a, ...b])].sort()
}
