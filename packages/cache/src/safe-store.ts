import { channels } from './channels.js'
import { decodeEntry } from './entry.js'
import { FST_PERF_CACHE_STORE_TIMEOUT } from './errors.js'
import { type CacheStore, isPromise, type MaybePromise, type StoredEntry, type StoreLock } from './store.js'

/** The smallest logger the wrapper needs; Fastify's `app.log` fits. */
export interface WarnLogger {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

/** Settings of the wrapper, resolved by the plugin's options. */
export interface SafeStoreSettings {
  /** Per-operation deadline for asynchronous answers, ms. */
  timeoutMs: number
  /** Consecutive failures that open the breaker; 0 disables the breaker. */
  breakerThreshold: number
  /** How long the breaker stays open before one probe is let through, ms. */
  breakerDurationMs: number
  /** Minimum time between two warn logs of one failure burst, ms. */
  logIntervalMs: number
  logger: WarnLogger
}

type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * What the caller of a read does with its answer (see {@link SafeStore.read}): called once with the
 * entry (`undefined` for a miss, a failure or a timeout) and the read's deadline, the budget of the
 * rest of the caller's operation. What it returns (or throws) settles the read's promise.
 */
export type ReadContinuation<R> = (entry: StoredEntry | undefined, deadline: number) => R | Promise<R>

/** A caller that joined a read in flight, with its own continuation (or none: it takes the entry). */
interface Joiner {
  readonly next: ReadContinuation<unknown> | undefined
  resolve: (value: unknown) => void
}

const noop = () => {}
const NO_CALL = Object.freeze({ deadline: 0 })
const STALL_GRACE_MS = 10
// setTimeout counts whole milliseconds: a deadline less than this before the FIFO's is given the
// FIFO's (at most this much later), which keeps the calls of a healthy store in the cheap queue.
const FIFO_SLACK_MS = 1

/** One store call waiting for its answer or its deadline. */
class PendingCall {
  done = false
  graced = false
  /** `performance.now()` past which the call has failed (moved once by a stall grace). */
  deadline: number
  /** The time it was given, ms, for the timeout error's message. */
  readonly limitMs: number
  /** Settles the caller's promise; set by the promise's executor, which runs at once. */
  resolve: (value: unknown) => void = noop
  promise: Promise<unknown> | undefined
  /**
   * The key of a `get` while the call is the reads map's entry for it (later reads of that key
   * join it); cleared when a write or `forgetReads` takes it out, so `#finish` removes the entry
   * without first reading it back to check it is still this call's.
   */
  readKey: string | undefined
  /** The reader's continuation: the promise settles with what it returns, not with the entry. */
  next: ReadContinuation<unknown> | undefined
  /** Readers that joined this read with a continuation of their own (or when it has one). */
  joiners: Joiner[] | undefined
  readonly operation: string
  readonly fallback: unknown

  constructor(operation: string, fallback: unknown, deadline: number, limitMs: number) {
    this.operation = operation
    this.fallback = fallback
    this.deadline = deadline
    this.limitMs = limitMs
  }
}

/**
 * The only place that calls a store, and the only place that catches store errors.
 *
 * Every call answers within `timeoutMs` whatever the store does: a rejection, a throw, a hang
 * (SIGSTOPped server, a client queueing commands offline) all become the operation's fallback
 * (a miss for reads, "not written" for writes). After `breakerThreshold` consecutive failures the
 * breaker opens and the store is not called at all for `breakerDurationMs`; then one probe is let
 * through (half-open) and its outcome closes or reopens the breaker. So a dead store costs each
 * request at most one timeout until the breaker opens, and nothing after that.
 *
 * Why our own deadline: no client library bounds every failure. ioredis needs `commandTimeout`
 * to end a hung command, and memjs's timeout only fires on an idle socket (memjs#119); a custom
 * store may have neither. A synchronous store (the memory store) gets no timer at all: it cannot hang.
 */
export class SafeStore {
  readonly store: CacheStore
  readonly #settings: SafeStoreSettings
  #state: BreakerState = 'closed'
  #failures = 0
  #openUntil = 0
  #probing = false
  #lastLog = 0
  #suppressed = 0
  /** Failed or timed-out operations since start. */
  errors = 0
  /** Operations skipped because the breaker was open or their operation's budget was spent. */
  rejected = 0

  /** Whether every answer so far was synchronous: see {@link #spent}. */
  #synchronous = true
  /**
   * The store has `readBytes` or `getBytes`: reads go through it, and the settle step decodes (see
   * `CacheStore.getBytes`).
   */
  readonly #bytes: boolean
  /** The store has `readBytes`: reads pass it their settle step as its callback, no promise between. */
  readonly #callbackReads: boolean

  constructor(store: CacheStore, settings: SafeStoreSettings) {
    this.store = store
    this.#settings = settings
    this.#callbackReads = typeof store.readBytes === 'function'
    this.#bytes = this.#callbackReads || typeof store.getBytes === 'function'
  }

  /** The breaker's state: `closed` (healthy), `open` (store skipped) or `half-open` (probing). */
  get state(): BreakerState {
    return this.#state
  }

  /**
   * The last call that went to the store asynchronously (or the read in flight it joined): a
   * caller that just got a Promise back takes it at once, and later its `deadline` (a
   * `performance.now()` time), to give the rest of its operation the same budget. Without a clock
   * read of its own on its hot path, and holding an object that exists anyway rather than a
   * number, which a closure would box on every remote hit.
   * @internal
   */
  lastCall: { readonly deadline: number } = NO_CALL

  /**
   * Reads one entry. A read of a key that is already being read joins that read instead of
   * sending another: under load a hot key costs one round trip per batch of concurrent requests,
   * not one per request (the "hot key" that overloads one Redis shard). A write, delete or clear
   * made here drops the read in flight for what it touched, so a read that starts after this
   * process wrote a key never answers what was there before.
   *
   * Every method takes an optional last `deadline`, a `performance.now()` time: the budget of the
   * operation the call belongs to (see `Cache`). The call then fails at that deadline instead of
   * `timeoutMs` after it started, and a call whose budget is already spent answers its fallback
   * at once, without reaching the store.
   */
  get(key: string, deadline?: number): MaybePromise<StoredEntry | undefined> {
    return this.read(key, deadline, undefined) as MaybePromise<StoredEntry | undefined>
  }

  /**
   * {@link get}, with what the caller does with the entry when the store answers later: `then` runs
   * in the continuation that settles the store's answer, and the Promise answered settles with
   * its result. A remote hit then costs the store client's own promise, one reaction and this one
   * Promise, instead of a chain of them (the store's decode, this wrapper's, the caller's `then`),
   * each a promise and a microtask. A synchronous answer is returned as it is, without calling `then`.
   */
  read<R>(
    key: string,
    deadline: number | undefined,
    then: ReadContinuation<R> | undefined,
  ): StoredEntry | undefined | Promise<R> {
    // (A synchronous store never has reads in flight: its hits pay no lookup.)
    if (this.#reads.size !== 0) {
      const joined = this.#reads.get(key)
      // Only a caller that may wait as long as the read in flight joins it; one with a shorter
      // budget reads on its own (rare: a healthy store answers long before any budget ends).
      if (joined !== undefined && (deadline === undefined || deadline >= joined.deadline)) {
        this.joinedReads++
        this.lastCall = joined
        if (then === undefined && joined.next === undefined) return joined.promise as Promise<R>
        return this.#join(joined, then as ReadContinuation<unknown> | undefined) as Promise<R>
      }
      if (joined !== undefined) return this.#readBeside(joined, key, deadline, then)
    }
    return this.#readOwn(key, deadline, then)
  }

  /** A read that joins none in flight: its own store call. */
  #readOwn<R>(
    key: string,
    deadline: number | undefined,
    then: ReadContinuation<R> | undefined,
  ): StoredEntry | undefined | Promise<R> {
    if ((deadline !== undefined && this.#spent(deadline)) || !this.#admit()) return undefined
    if (this.#callbackReads) return this.#readByCallback(key, deadline, then) as Promise<R>
    const bytes = this.#bytes
    let result: MaybePromise<StoredEntry | Uint8Array | null | undefined>
    try {
      result = bytes ? this.store.getBytes!(key) : this.store.get(key)
    } catch (err) {
      return this.#fail('get', err, undefined)
    }
    if (!isPromise(result))
      return bytes
        ? this.#decode(result as Uint8Array | null | undefined)
        : this.#succeed(result as StoredEntry | undefined)
    const promise = this.#deadline('get', result, undefined, deadline, key)
    if (then !== undefined) (this.lastCall as PendingCall).next = then as ReadContinuation<unknown>
    return promise as Promise<R>
  }

  /**
   * A read of a key with a read in flight this caller may not join (its budget ends first). The new
   * read may take the old one's place among the reads to join; the old one must then no longer
   * remove the key from the map when it ends (see `PendingCall.readKey`).
   */
  #readBeside<R>(
    joined: PendingCall,
    key: string,
    deadline: number | undefined,
    then: ReadContinuation<R> | undefined,
  ): StoredEntry | undefined | Promise<R> {
    const reads = this.#reads
    reads.delete(key)
    const result = this.#readOwn(key, deadline, then)
    // Offered to joiners, the new read took the key; else the old one stays the read to join.
    if (reads.has(key)) joined.readKey = undefined
    else reads.set(key, joined)
    return result
  }

  /**
   * A read through the store's `readBytes`: its callback is this read's settle step, so a hit costs
   * no promise between the client's answer and the caller's (memjs answers with callbacks).
   */
  #readByCallback(
    key: string,
    deadline: number | undefined,
    then: ReadContinuation<unknown> | undefined,
  ): Promise<unknown> {
    const call = this.#track('get', undefined, deadline, key)
    // Before the store is called: a store may answer synchronously (a closed one does).
    call.next = then
    const promise = call.promise!
    try {
      this.store.readBytes!(key, (error, bytes) => {
        if (error == null) this.settle(call, false, bytes)
        else this.settle(call, true, error)
      })
    } catch (err) {
      this.settle(call, true, err)
    }
    return promise
  }

  /** A reader joining `call` in flight, with a continuation of its own. */
  #join(call: PendingCall, then: ReadContinuation<unknown> | undefined): Promise<unknown> {
    const joiner: Joiner = { next: then, resolve: noop }
    const promise = new Promise<unknown>((resolve) => {
      joiner.resolve = resolve
    })
    if (call.joiners === undefined) call.joiners = [joiner]
    else call.joiners.push(joiner)
    return promise
  }

  /** The entry in a store's bytes, as a read's answer: unreadable bytes are the store's failure. */
  #decode(bytes: Uint8Array | null | undefined): StoredEntry | undefined {
    let entry: StoredEntry | undefined
    try {
      entry = bytes == null ? undefined : decodeEntry(bytes)
    } catch (err) {
      return this.#fail('get', err, undefined)
    }
    return this.#succeed(entry)
  }

  getMany(keys: readonly string[], deadline?: number): MaybePromise<ReadonlyArray<StoredEntry | undefined>> {
    const missing = new Array<undefined>(keys.length)
    if ((deadline !== undefined && this.#spent(deadline)) || !this.#admit()) return missing
    let result: MaybePromise<ReadonlyArray<StoredEntry | undefined>>
    try {
      result = this.store.getMany(keys)
    } catch (err) {
      return this.#fail('getMany', err, missing)
    }
    return isPromise(result) ? this.#deadline('getMany', result, missing, deadline) : this.#succeed(result)
  }

  /** Answers whether the write reached the store. */
  set(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean> {
    this.#forget(key)
    return this.#write('set', () => this.store.set(key, entry, ttlMs), deadline)
  }

  /**
   * Writes the entry only if the key holds none: `true` when written, `false` when the key exists,
   * `undefined` when there is no answer to be had (the store has no `add`, or failed): the caller
   * then falls back to a plain write.
   */
  add(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean | undefined> {
    const store = this.store
    if (store.add === undefined) return undefined
    if ((deadline !== undefined && this.#spent(deadline)) || !this.#admit()) return undefined
    this.#forget(key)
    let result: MaybePromise<boolean>
    try {
      result = store.add(key, entry, ttlMs)
    } catch (err) {
      return this.#fail('add', err, undefined)
    }
    if (!isPromise(result)) return this.#succeed(result === true)
    return this.#deadline<boolean | undefined>(
      'add',
      result.then((added) => added === true),
      undefined,
      deadline,
    )
  }

  delete(key: string, deadline?: number): MaybePromise<boolean> {
    this.#forget(key)
    return this.#write('delete', () => this.store.delete(key), deadline)
  }

  deleteMany(keys: readonly string[], deadline?: number): MaybePromise<boolean> {
    this.forgetReads(keys)
    return this.#write('deleteMany', () => this.store.deleteMany(keys), deadline)
  }

  clear(prefix: string, deadline?: number): MaybePromise<boolean> {
    this.forgetReads()
    return this.#write('clear', () => this.store.clear(prefix), deadline)
  }

  /**
   * Takes the store's cross-instance lock. Answers the lock when taken, `false` when another
   * holder has it, and `undefined` when there is no lock to be had (the store has none, or failed):
   * the caller then goes ahead on its own, as without a lock.
   */
  lock(key: string, ttlMs: number, deadline?: number): MaybePromise<StoreLock | false | undefined> {
    if (this.store.lock === undefined) return undefined
    if ((deadline !== undefined && this.#spent(deadline)) || !this.#admit()) return undefined
    let result: MaybePromise<StoreLock | undefined>
    try {
      result = this.store.lock(key, ttlMs)
    } catch (err) {
      return this.#fail('lock', err, undefined)
    }
    const taken = (lock: StoreLock | undefined) => lock ?? (false as const)
    if (!isPromise(result)) return taken(this.#succeed(result))
    return this.#deadline('lock', result.then(taken), undefined, deadline)
  }

  /** Releases a lock taken with {@link lock}; never throws. */
  unlock(lock: StoreLock, deadline?: number): MaybePromise<boolean> {
    return this.#write('unlock', () => lock.release(), deadline)
  }

  #write(
    operation: string,
    run: () => MaybePromise<unknown>,
    deadline: number | undefined,
  ): MaybePromise<boolean> {
    if ((deadline !== undefined && this.#spent(deadline)) || !this.#admit()) return false
    let result: MaybePromise<unknown>
    try {
      result = run()
    } catch (err) {
      return this.#fail(operation, err, false)
    }
    if (!isPromise(result)) return this.#succeed(true)
    return this.#deadline(
      operation,
      result.then(() => true),
      false,
      deadline,
    )
  }

  /**
   * Whether the operation's budget is spent, in which case the store is not asked at all.
   *
   * Such a refusal is counted with the breaker's (`rejected`, `stats().store.skipped`: the store
   * was skipped) and never as a failure: it says nothing about the store, and must not feed the
   * breaker's count of consecutive failures. The call that spent the budget already did: it timed
   * out, which is one failure per operation against a hung store (the same count as before
   * operations had one budget), where counting every call refused after it would open the
   * breaker after a fraction of `threshold` operations. A call that did reach the store and ran
   * out of budget there is a timeout like any other, and feeds the breaker: the store did not
   * answer in the time it had.
   */
  #spent(deadline: number): boolean {
    // A store that has only ever answered synchronously (the memory store) cannot make anyone
    // wait: a budget spent by a busy process (other work, a descheduled CPU) must not turn its
    // writes into no-ops (a tag's version record skipped, its entries all misses).
    if (this.#synchronous || deadline > performance.now()) return false
    this.rejected++
    return true
  }

  /** Whether an operation may reach the store now (the breaker's gate). */
  #admit(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open') {
      if (Date.now() < this.#openUntil) {
        this.rejected++
        return false
      }
      this.#transition('half-open')
    }
    // Half-open: exactly one probe at a time; everything else is still skipped.
    if (this.#probing) {
      this.rejected++
      return false
    }
    this.#probing = true
    return true
  }

  #deadline<T>(
    operation: string,
    pending: Promise<unknown>,
    fallback: T,
    budget: number | undefined,
    readKey?: string,
  ): Promise<T> {
    const call = this.#track(operation, fallback, budget, readKey)
    const promise = call.promise as Promise<T>
    pending.then(
      (value) => this.settle(call, false, value),
      (error) => this.settle(call, true, error),
    )
    return promise
  }

  /** Starts the clock of one store call: its promise, its place among the deadlines, its read key. */
  #track(
    operation: string,
    fallback: unknown,
    budget: number | undefined,
    readKey: string | undefined,
  ): PendingCall {
    this.#synchronous = false
    const timeoutMs = this.#settings.timeoutMs
    const now = performance.now()
    const own = now + timeoutMs
    // In the FIFO when the call's deadline is its own `timeoutMs` (or within the slack of it);
    // aside, in `#aside`, when an operation's budget ends earlier (or, for a replay, later).
    const ordered = budget === undefined || (budget <= own && budget > own - FIFO_SLACK_MS)
    const deadline = ordered ? own : budget
    const call = new PendingCall(operation, fallback, deadline, deadline - now)
    call.promise = new Promise((resolve) => {
      call.resolve = resolve
    })
    this.lastCall = call
    // A read aside is not offered to joiners: they would be held to its shorter budget.
    if (readKey !== undefined && ordered) {
      call.readKey = readKey
      this.#reads.set(readKey, call)
    }
    this.#waiting++
    if (ordered) {
      this.#queue.push(call)
      if (this.#timer === undefined) this.#arm(deadline, timeoutMs)
      else if (this.#waiting === 1) this.#timer.ref()
    } else {
      this.#aside.push(call)
      if (this.#timer === undefined) {
        this.#arm(deadline, deadline - now)
      } else if (deadline < this.#timerAt) {
        // The timer is armed for a later deadline: move it to this one.
        clearTimeout(this.#timer)
        this.#arm(deadline, deadline - now)
      } else if (this.#waiting === 1) {
        this.#timer.ref()
      }
    }
    return call
  }

  /** @internal Settles a call with the store's answer (`failed` false) or error; ignored once it expired. */
  settle(call: PendingCall, failed: boolean, result: unknown): void {
    if (call.done) return
    this.#finish(call)
    this.#answer(
      call,
      failed
        ? this.#fail(call.operation, result, call.fallback)
        : this.#bytes && call.operation === 'get'
          ? this.#decode(result as Uint8Array | null | undefined)
          : this.#succeed(result),
    )
  }

  /** Settles the call's promise, and its joiners', with `value` or what their continuations make of it. */
  #answer(call: PendingCall, value: unknown): void {
    const next = call.next
    const resolve = call.resolve
    const joiners = call.joiners
    this.#release(call)
    resolve(next === undefined ? value : proceed(next, value, call.deadline))
    if (joiners === undefined) return
    for (let i = 0; i < joiners.length; i++) {
      const joiner = joiners[i]!
      joiner.resolve(joiner.next === undefined ? value : proceed(joiner.next, value, call.deadline))
    }
  }

  #finish(call: PendingCall): void {
    call.done = true
    if (call.readKey !== undefined) this.#reads.delete(call.readKey)
    if (--this.#waiting === 0) {
      this.#idle()
      return
    }
    // An answered call at the FIFO's head leaves it now, with the answered ones behind it (a
    // store answers in about the order it was asked), rather than when the timer next passes:
    // under load that kept every call of the last `timeoutMs` reachable, so each survived the
    // young-generation collections it would otherwise die in, and was promoted (the largest
    // garbage-collection cost of a remote hit).
    const queue = this.#queue
    let head = this.#head
    if (queue[head] !== call) return
    do queue[head++] = undefined
    while (head < queue.length && queue[head]!.done)
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head)
      head = 0
    }
    this.#head = head
  }

  /** What an answered call no longer needs: its promise, continuations and value are the caller's now. */
  #release(call: PendingCall): void {
    call.resolve = noop
    call.promise = undefined
    call.next = undefined
    call.joiners = undefined
  }

  /**
   * Makes later reads of `keys` (of every key without `keys`) start their own store read instead
   * of joining one in flight: for invalidations another instance announced on the bus.
   */
  forgetReads(keys?: readonly string[]): void {
    const reads = this.#reads
    if (reads.size === 0) return
    if (keys !== undefined) {
      for (const key of keys) this.#forget(key)
      return
    }
    for (const call of reads.values()) call.readKey = undefined
    reads.clear()
  }

  /** Takes the read in flight for `key` out of the reads map: later reads of `key` start their own. */
  #forget(key: string): void {
    const reads = this.#reads
    if (reads.size === 0) return
    const call = reads.get(key)
    if (call === undefined) return
    call.readKey = undefined
    reads.delete(key)
  }

  // Reads in flight by key, for `get` to join.
  readonly #reads = new Map<string, PendingCall>()
  /** Reads answered by joining a read already in flight for the same key. */
  joinedReads = 0

  // One timer for every call in flight, armed for the earliest deadline, instead of a setTimeout
  // and a clearTimeout per call: measured on a remote hit, those two cost more than the rest of the
  // engine's work. Calls with the default deadline (`timeoutMs` after they start) all have the
  // same length, so `#queue` is in deadline order and a tick only looks at its expired head. The
  // others wait in `#aside`, a short list scanned at each tick: calls given a stall grace, and
  // calls whose operation's budget ends earlier than their own `timeoutMs` (a later call of a
  // `getOrSet` whose read already took part of its budget), which may move the timer earlier.
  // Answered calls leave the queue when they reach its head (see #finish): with a store that
  // answers in order, at once; behind a call still waiting, at most the calls of one timeout,
  // holding nothing of their answer (see #release).
  readonly #queue: Array<PendingCall | undefined> = []
  #head = 0
  #aside: PendingCall[] = []
  #waiting = 0
  #timer: NodeJS.Timeout | undefined
  /** When the armed timer fires, `performance.now()` time. */
  #timerAt = 0

  #arm(at: number, delayMs: number): void {
    // Ref'd while a call waits (a script awaiting a hung store gets its miss instead of an exit
    // mid-call), unref'd when idle, so an idle cache never holds the process open.
    const delay = Math.max(1, Math.ceil(delayMs))
    this.#timerAt = at - delayMs + delay
    this.#timer = setTimeout(this.#tick, delay)
    if (this.#waiting === 0) this.#timer.unref()
  }

  #idle(): void {
    this.#timer?.unref()
    // Nothing waits: everything queued is answered.
    this.#queue.length = 0
    this.#head = 0
  }

  readonly #tick = (): void => {
    this.#timer = undefined
    const { timeoutMs } = this.#settings
    const now = performance.now()
    const expired: PendingCall[] = []
    const aside: PendingCall[] = []
    for (const call of this.#aside) {
      if (call.done) continue
      if (call.deadline > now) aside.push(call)
      else if (this.#grace(call, now, timeoutMs)) aside.push(call)
      else expired.push(call)
    }
    const queue = this.#queue
    let head = this.#head
    for (; head < queue.length; head++) {
      const call = queue[head]!
      if (call.done) continue
      if (call.deadline > now) break
      if (this.#grace(call, now, timeoutMs)) aside.push(call)
      else expired.push(call)
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head)
      head = 0
    }
    this.#head = head
    this.#aside = aside
    for (const call of expired) {
      this.#finish(call)
      this.#answer(
        call,
        this.#fail(
          call.operation,
          new FST_PERF_CACHE_STORE_TIMEOUT(this.store.name, call.operation, Math.round(call.limitMs)),
          call.fallback,
        ),
      )
    }
    if (this.#waiting === 0) {
      this.#aside = []
      return
    }
    let next = Number.POSITIVE_INFINITY
    for (; this.#head < queue.length && queue[this.#head]!.done; this.#head++) {}
    if (this.#head < queue.length) next = queue[this.#head]!.deadline
    for (const call of aside) if (call.deadline < next) next = call.deadline
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next, next - performance.now())
  }

  /**
   * A timer that fires late because this process's event loop was stalled (GC, a long
   * synchronous task, a CPU-starved container) says nothing about the store: the command may not
   * even have left (auto-pipelining flushes on the next tick) or its answer may be waiting in the
   * socket. Once per call, such a stall earns the store a short grace (10 ms, plenty for an answer
   * already in flight): answers whether `call` got it. A store that is hung while the loop is
   * responsive still fails at its deadline, and a stalled one at most 10 ms later.
   */
  #grace(call: PendingCall, now: number, timeoutMs: number): boolean {
    if (call.graced || now - call.deadline <= timeoutMs * 0.5) return false
    call.graced = true
    call.deadline = now + Math.min(timeoutMs, STALL_GRACE_MS)
    return true
  }

  #succeed<T>(value: T): T {
    if (this.#failures !== 0 || this.#state !== 'closed') {
      if (this.#state !== 'closed') this.#transition('closed')
      if (this.#suppressed > 0 || this.#lastLog !== 0) {
        this.#settings.logger.info(
          { store: this.store.name, failures: this.#failures },
          'cache store answering again',
        )
      }
      this.#failures = 0
      this.#suppressed = 0
      this.#lastLog = 0
    }
    this.#probing = false
    return value
  }

  #fail<T>(operation: string, error: unknown, fallback: T): T {
    this.errors++
    this.#failures++
    this.#probing = false
    const { breakerThreshold, breakerDurationMs } = this.#settings
    if (this.#state === 'half-open' || (breakerThreshold > 0 && this.#failures >= breakerThreshold)) {
      this.#openUntil = Date.now() + breakerDurationMs
      if (this.#state !== 'open') this.#transition('open')
    }
    if (channels.storeError.hasSubscribers) {
      channels.storeError.publish({ store: this.store.name, operation, error })
    }
    this.#log(operation, error)
    return fallback
  }

  // One warn line per failure burst, then at most one per `logIntervalMs` with the count of the
  // failures in between: a dead store under load must not flood the log.
  #log(operation: string, error: unknown): void {
    const now = Date.now()
    if (this.#lastLog !== 0 && now - this.#lastLog < this.#settings.logIntervalMs) {
      this.#suppressed++
      return
    }
    this.#settings.logger.warn(
      { err: error, store: this.store.name, operation, suppressed: this.#suppressed, breaker: this.#state },
      'cache store failed; treating it as a miss',
    )
    this.#lastLog = now
    this.#suppressed = 0
  }

  #transition(state: BreakerState): void {
    this.#state = state
    if (channels.breaker.hasSubscribers) channels.breaker.publish({ store: this.store.name, state })
    if (state === 'open') {
      this.#settings.logger.warn(
        { store: this.store.name, retryInMs: this.#settings.breakerDurationMs },
        'cache store circuit breaker open: skipping the store',
      )
    }
  }

  /** Closes the store, bounded by the timeout; never throws. */
  async close(): Promise<void> {
    try {
      const result = this.store.close()
      if (isPromise(result)) await this.#deadline('close', result.then(noop), undefined, undefined)
    } catch (err) {
      this.#fail('close', err, undefined)
    }
  }
}

/** A read's continuation run on its answer; a throw rejects the caller's promise. */
function proceed(next: ReadContinuation<unknown>, entry: unknown, deadline: number): unknown {
  try {
    return next(entry as StoredEntry | undefined, deadline)
  } catch (error) {
    return Promise.reject(error)
  }
}
