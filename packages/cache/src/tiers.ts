import { randomBytes } from 'node:crypto'
import type { BusMessage, InvalidationBus } from './bus.js'
import { type DebtSettings, InvalidationDebt, type Replayed } from './invalidation-debt.js'
import type { MemoryStore } from './memory-store.js'
import type { ReadContinuation, SafeStore } from './safe-store.js'
import { isPromise, type MaybePromise, type StoredEntry, type StoreLock } from './store.js'

/** How the engine reaches its store: an optional in-process L1 in front of the (safe) store. */
export interface TierSettings {
  /** The in-process tier, or undefined for a single tier. */
  l1: MemoryStore | undefined
  /** The channel that keeps L1 tiers of instances sharing the store consistent. */
  bus: InvalidationBus | undefined
  /** The bus channel name. */
  channel: string
  /** While the bus is down (or absent), L1 entries older than this are not trusted, ms. */
  fallbackTtlMs: number
  /** Called when the bus goes down or comes back, for logs. */
  onBusStatus: (up: boolean) => void
  /** The invalidation debt's settings. */
  debt: DebtSettings
}

const orNoAnswer = (written: boolean) => (written ? true : undefined)

/**
 * Reads and writes through the tiers. Without an L1 every call goes straight to the safe store.
 * With one:
 * - reads try L1 first; an L1 miss (or a stale L1 entry) reads the shared store and keeps what it
 *   finds in L1;
 * - writes, deletes and clears go to both, and announce the keys on the bus so every other
 *   instance drops them from its L1 (they read the new value from the shared store next time);
 * - while the bus is down, or when there is none, an L1 entry is trusted for `fallbackTtl` after it
 *   was fetched, so staleness stays bounded; when the bus comes back, L1 is cleared, since
 *   invalidations sent meanwhile were lost.
 *
 * An invalidation the store does not take (a delete, a clear, a tag's new version record) is kept
 * in `debt` (see `InvalidationDebt`): until it is replayed, reads here treat what it invalidated
 * as absent, in L1 and in the store alike. So the route cache's invalidations, which come through
 * here too, are never lost either.
 */
export class Tiers {
  readonly safe: SafeStore
  readonly #l1: MemoryStore | undefined
  readonly #bus: InvalidationBus | undefined
  readonly #settings: TierSettings
  readonly #origin = randomBytes(8).toString('base64url')
  // When each entry object entered L1 (epoch ms), for the fallback TTL check while the bus is down.
  readonly #l1At = new WeakMap<StoredEntry, number>()
  #busUp = false
  // Bumped by every invalidation received (and by a bus outage ending). A remote read that an
  // invalidation overtook (the message arrived while the read was in flight) may carry the value
  // from before it: that read still answers its caller, who asked before the message came, but
  // does not fill L1, where it would stay until its TTL. One counter for all keys, not one per
  // key: under heavy invalidation traffic some L1 fills are skipped, which costs a round trip on
  // the next read and never serves anything stale.
  #epoch = 0
  /** Hits answered by L1. */
  l1Hits = 0
  /** Invalidations the store did not take yet. */
  readonly debt: InvalidationDebt

  constructor(safe: SafeStore, settings: TierSettings) {
    this.safe = safe
    this.#l1 = settings.l1
    this.#bus = settings.bus
    this.#settings = settings
    this.debt = new InvalidationDebt(safe, settings.debt, (replayed) => this.#replayed(replayed))
  }

  /** Whether the bus is up (false without a bus). */
  get busUp(): boolean {
    return this.#busUp
  }

  /** Whether a bus was configured. */
  get hasBus(): boolean {
    return this.#bus !== undefined
  }

  get l1(): MemoryStore | undefined {
    return this.#l1
  }

  /** Starts listening on the bus. Never throws and never waits for a store that is down. */
  start(): void {
    const bus = this.#bus
    if (bus === undefined || this.#l1 === undefined) return
    try {
      const pending = bus.subscribe(
        this.#settings.channel,
        (message) => this.#receive(message),
        (up) => this.#status(up),
      )
      if (isPromise(pending)) pending.catch(() => this.#status(false))
    } catch {
      this.#status(false)
    }
  }

  /**
   * Every method takes an optional last `deadline`, the budget of the operation the call belongs
   * to, and hands it to the safe store (see `SafeStore#get`).
   */
  get(key: string, deadline?: number): MaybePromise<StoredEntry | undefined> {
    return this.read(key, deadline, undefined) as MaybePromise<StoredEntry | undefined>
  }

  /**
   * {@link get} with a continuation for an answer that comes later (see `SafeStore#read`): a
   * synchronous answer (an L1 hit, a memory store, a skipped store) is returned as it is; a later
   * one settles the Promise returned with what `then` makes of it (with the entry itself without
   * `then`).
   */
  read<R>(
    key: string,
    deadline: number | undefined,
    then: ReadContinuation<R> | undefined,
  ): StoredEntry | undefined | Promise<R> {
    // All a read pays for the debt while none is pending: one boolean.
    if (this.debt.active && this.debt.masks(key)) return undefined
    const l1 = this.#l1
    if (l1 === undefined) return this.safe.read(key, deadline, then)
    const local = l1.get(key)
    if (this.#usable(local)) {
      this.l1Hits++
      return local
    }
    // Missing, stale or untrusted in L1: the shared store may have something fresher.
    const epoch = this.#epoch
    const remote = this.safe.read(key, deadline, (entry, budget) => {
      const found = this.#fromRemote(key, entry, local, epoch)
      return then === undefined ? found : then(found, budget)
    })
    // (The safe store's own Promise: an entry is a plain object.)
    if (remote instanceof Promise) return remote as Promise<R>
    return this.#fromRemote(key, remote, local, epoch)
  }

  /**
   * A read that never reaches a remote store: the L1 entry when it is fresh and trusted, else the
   * entry of a synchronous store (`local`, the memory store, when it is the store itself), else
   * `undefined`. For the route cache's edge path, which answers only what it can answer at once.
   */
  peek(key: string, local: MemoryStore | undefined): StoredEntry | undefined {
    if (this.debt.active && this.debt.masks(key)) return undefined
    const l1 = this.#l1
    if (l1 === undefined) return local?.get(key)
    const entry = l1.get(key)
    if (!this.#usable(entry)) return undefined
    this.l1Hits++
    return entry
  }

  /** An L1 entry a read may answer without the shared store: fresh and trusted. */
  #usable(entry: StoredEntry | undefined): entry is StoredEntry {
    return entry !== undefined && entry.freshUntil > Date.now() && this.#trusted(entry)
  }

  getMany(keys: readonly string[], deadline?: number): MaybePromise<ReadonlyArray<StoredEntry | undefined>> {
    const found = this.#getMany(keys, deadline)
    return this.debt.active ? this.#masked(found, keys) : found
  }

  /**
   * Reads the shared store only (not L1), as `getMany` would: for a read-back that must see what
   * other instances wrote.
   */
  getShared(
    keys: readonly string[],
    deadline?: number,
  ): MaybePromise<ReadonlyArray<StoredEntry | undefined>> {
    const found = this.safe.getMany(keys, deadline)
    return this.debt.active ? this.#masked(found, keys) : found
  }

  #masked(
    found: MaybePromise<ReadonlyArray<StoredEntry | undefined>>,
    keys: readonly string[],
  ): MaybePromise<ReadonlyArray<StoredEntry | undefined>> {
    return isPromise(found) ? found.then((f) => this.debt.mask(f, keys)) : this.debt.mask(found, keys)
  }

  #getMany(keys: readonly string[], deadline?: number): MaybePromise<ReadonlyArray<StoredEntry | undefined>> {
    const l1 = this.#l1
    if (l1 === undefined) return this.safe.getMany(keys, deadline)
    const out = l1.getMany(keys)
    const missing: number[] = []
    for (let i = 0; i < out.length; i++) {
      const entry = out[i]
      if (entry === undefined || !this.#trusted(entry)) missing.push(i)
    }
    if (missing.length === 0) return out
    const epoch = this.#epoch
    const remote = this.safe.getMany(
      missing.map((i) => keys[i]!),
      deadline,
    )
    const merge = (found: ReadonlyArray<StoredEntry | undefined>) => {
      const keep = epoch === this.#epoch
      for (let j = 0; j < missing.length; j++) {
        const i = missing[j]!
        const entry = found[j]
        out[i] = entry
        if (entry !== undefined && keep) this.#keep(keys[i]!, entry)
      }
      return out
    }
    return isPromise(remote) ? remote.then(merge) : merge(remote)
  }

  /**
   * Writes to both tiers and tells other instances to drop the key from their L1. The
   * announcement goes out after the shared store acknowledged the write: sent earlier, another
   * instance could drop the key, read the old value from the store and keep it.
   */
  set(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean> {
    if (this.#l1 !== undefined) this.#keep(key, entry, ttlMs)
    let written = this.safe.set(key, entry, ttlMs, deadline)
    // (Nothing is deferred while the write is being sent: `seq` is still the one it started at.)
    if (this.debt.active) written = this.#settling(written, [key], this.debt.seq)
    return this.#after(written, { keys: [key] })
  }

  /**
   * Writes `entry` under every key of `keys` (tag version records: an invalidation), and
   * announces them all at once when every write settled. A write the store did not take is kept
   * as debt. Answers whether every write reached the store.
   */
  async setAll(
    keys: readonly string[],
    entry: StoredEntry,
    ttlMs: number,
    deadline?: number,
  ): Promise<boolean> {
    const since = this.debt.seq
    const written = await Promise.all(
      keys.map((key) => {
        if (this.#l1 !== undefined) this.#keep(key, entry, ttlMs)
        return this.safe.set(key, entry, ttlMs, deadline)
      }),
    )
    const failed = keys.filter((_, i) => !written[i])
    if (this.debt.active) {
      this.debt.settled(
        keys.filter((_, i) => written[i]),
        since,
      )
    }
    this.debt.defer(failed, entry, ttlMs)
    this.announce(keys)
    return failed.length === 0
  }

  /** Pays the debt of `keys` from before `since` once `written` says the store took the write. */
  #settling(written: MaybePromise<boolean>, keys: readonly string[], since: number): MaybePromise<boolean> {
    const settle = (ok: boolean) => {
      if (ok) this.debt.settled(keys, since)
      return ok
    }
    return isPromise(written) ? written.then(settle) : settle(written)
  }

  /** Keeps the deletion of `keys` as debt unless `deleted` says the store took it. */
  #deleting(deleted: MaybePromise<boolean>, keys: readonly string[]): MaybePromise<boolean> {
    const since = this.debt.seq
    const settle = (ok: boolean) => {
      if (!ok) this.debt.defer(keys)
      else if (this.debt.active) this.debt.settled(keys, since)
      return ok
    }
    return isPromise(deleted) ? deleted.then(settle) : settle(deleted)
  }

  /**
   * Writes `entry` to the shared store only if the key holds none there. When written, it goes
   * into L1 and is announced like a `set`; `undefined` means no answer (see `SafeStore#add`).
   */
  add(key: string, entry: StoredEntry, ttlMs: number, deadline?: number): MaybePromise<boolean | undefined> {
    if (this.debt.active && this.debt.masks(key)) {
      // The debt says what the store holds under this key is invalid: a set-if-absent would keep
      // it (a tag's old version, adopted as current). Written outright instead.
      const written = this.set(key, entry, ttlMs, deadline)
      return isPromise(written) ? written.then(orNoAnswer) : orNoAnswer(written)
    }
    const done = (added: boolean | undefined) => {
      if (added === true && this.#l1 !== undefined) {
        this.#keep(key, entry, ttlMs)
        this.announce([key])
      }
      return added
    }
    const added = this.safe.add(key, entry, ttlMs, deadline)
    return isPromise(added) ? added.then(done) : done(added)
  }

  /** Deletes from both tiers; `false` when the store did not take it: it is then kept as debt. */
  delete(key: string, deadline?: number): MaybePromise<boolean> {
    this.#l1?.delete(key)
    return this.#after(this.#deleting(this.safe.delete(key, deadline), [key]), { keys: [key] })
  }

  /** Deletes from both tiers; `false` when the store did not take it: it is then kept as debt. */
  deleteMany(keys: readonly string[], deadline?: number): MaybePromise<boolean> {
    this.#l1?.deleteMany(keys)
    return this.#after(this.#deleting(this.safe.deleteMany(keys, deadline), keys), { keys })
  }

  /** Clears both tiers; `false` when the store did not take it: it is then kept as debt. */
  clear(prefix: string, deadline?: number): MaybePromise<boolean> {
    this.#l1?.clear(prefix)
    const since = this.debt.seq
    const settle = (ok: boolean) => {
      if (!ok) this.debt.deferClear(prefix)
      else if (this.debt.active) this.debt.cleared(since)
      // After the deferral: a failed clear goes on hiding the namespace, with no gap.
      this.debt.endClear(prefix)
      return ok
    }
    // Hidden here from the call on, until the store answers (see InvalidationDebt#beginClear).
    this.debt.beginClear(prefix)
    const cleared = this.safe.clear(prefix, deadline)
    return this.#after(isPromise(cleared) ? cleared.then(settle) : settle(cleared), { clearPrefix: prefix })
  }

  /** Announces `message` once `done` settled (whatever its outcome), and answers `done`. */
  #after(done: MaybePromise<boolean>, message: Omit<BusMessage, 'origin'>): MaybePromise<boolean> {
    if (this.#l1 === undefined || this.#bus === undefined) return done
    const send = () => this.#publish({ origin: this.#origin, ...message })
    if (!isPromise(done)) {
      send()
      return done
    }
    return done.then((ok) => {
      send()
      return ok
    })
  }

  lock(key: string, ttlMs: number, deadline?: number): MaybePromise<StoreLock | false | undefined> {
    return this.safe.lock(key, ttlMs, deadline)
  }

  unlock(lock: StoreLock, deadline?: number): MaybePromise<boolean> {
    return this.safe.unlock(lock, deadline)
  }

  /** Tells other instances to drop `keys` from their L1. */
  announce(keys: readonly string[]): void {
    if (this.#bus !== undefined && keys.length > 0) this.#publish({ origin: this.#origin, keys })
  }

  close(): MaybePromise<void> {
    return this.#bus?.close()
  }

  #fromRemote(
    key: string,
    entry: StoredEntry | undefined,
    local: StoredEntry | undefined,
    epoch: number,
  ): StoredEntry | undefined {
    if (entry === undefined) {
      // The shared store has nothing (or is down): a stale L1 entry may still serve SWR or grace,
      // but an untrusted one (bus down too long) may not, nor one invalidated meanwhile.
      return local !== undefined && epoch === this.#epoch && this.#trusted(local) ? local : undefined
    }
    if (epoch === this.#epoch) this.#keep(key, entry)
    return entry
  }

  /** Puts an entry into L1, for no longer than the fallback TTL while the bus is not up. */
  #keep(key: string, entry: StoredEntry, ttlMs?: number): void {
    const l1 = this.#l1!
    const now = Date.now()
    let ttl = ttlMs ?? Math.max(entry.staleUntil, entry.graceUntil) - now
    if (!this.#busUp) ttl = Math.min(ttl, this.#settings.fallbackTtlMs)
    if (ttl <= 0) return
    this.#l1At.set(entry, now)
    l1.set(key, entry, ttl)
  }

  #trusted(entry: StoredEntry): boolean {
    if (this.#busUp) return true
    const at = this.#l1At.get(entry)
    return at !== undefined && Date.now() - at < this.#settings.fallbackTtlMs
  }

  #publish(message: BusMessage): void {
    const bus = this.#bus
    if (bus === undefined) return
    try {
      const sent = bus.publish(this.#settings.channel, message)
      if (isPromise(sent)) sent.catch(() => {})
    } catch {
      // The bus counts its own failures; the fallback TTL bounds what a lost message costs.
    }
  }

  /** A replay reached the store: drop it from L1 and tell the other instances, like any write. */
  #replayed(replayed: Replayed): void {
    // A read in flight may carry what was there before: it must not fill L1 (see #epoch).
    this.#epoch++
    if (replayed.keys !== undefined) {
      this.#l1?.deleteMany(replayed.keys)
      this.safe.forgetReads(replayed.keys)
    }
    if (replayed.clearPrefix !== undefined) {
      this.#l1?.clear(replayed.clearPrefix)
      this.safe.forgetReads()
    }
    if (this.#bus !== undefined) this.#publish({ origin: this.#origin, ...replayed })
  }

  #receive(message: BusMessage): void {
    if (message.origin === this.#origin || this.#l1 === undefined) return
    this.#epoch++
    if (message.keys !== undefined) {
      this.#l1.deleteMany(message.keys)
      this.safe.forgetReads(message.keys)
    }
    if (message.clearPrefix !== undefined) {
      this.#l1.clear(message.clearPrefix)
      this.safe.forgetReads()
    }
  }

  #status(up: boolean): void {
    if (up === this.#busUp) return
    // Back up after an outage: whatever was invalidated meanwhile never reached us.
    if (up) {
      this.#epoch++
      this.#l1?.clear('')
      this.safe.forgetReads()
    }
    this.#busUp = up
    this.#settings.onBusStatus(up)
  }
}
