import { channels } from './channels.js'
import type { SafeStore, WarnLogger } from './safe-store.js'
import type { MaybePromise, StoredEntry } from './store.js'

/** Settings of the debt, resolved by the plugin's options. */
export interface DebtSettings {
  /** The cache's namespace; an overflow clears `<namespace>:`. */
  namespace: string
  /** Keys in debt above which the per-key debt becomes a clear of the whole namespace. */
  maxKeys: number
  /** Budget of a replayed clear, ms: a Redis `SCAN` + `UNLINK` of a large namespace takes a while. */
  clearBudgetMs: number
  /** Minimum time between two warn logs of one burst of deferrals, ms. */
  logIntervalMs: number
  logger: WarnLogger
}

/** One key's pending invalidation: delete it, or write a tag version record. */
interface DebtItem {
  /** The record to write; `undefined` to delete the key. */
  readonly entry: StoredEntry | undefined
  readonly ttlMs: number
  /** Its place in deferral order: a write that started after it supersedes it. */
  readonly seq: number
}

/** A pending `clear(prefix)`. */
interface ClearItem {
  readonly prefix: string
  readonly seq: number
}

/** What a replay made true in the store: the tiers drop it from L1 and announce it on the bus. */
export interface Replayed {
  readonly keys?: readonly string[]
  readonly clearPrefix?: string
}

/** Counters of `stats().invalidationDebt`. */
export interface DebtStats {
  /** Keys whose invalidation is pending, plus 1 for a pending clear of the namespace. */
  pending: number
  /** Times the debt outgrew `maxInvalidationDebt` and became a clear of the namespace. */
  overflowed: number
  /** Invalidations deferred since start (one per key, one per clear). */
  deferred: number
  /** Invalidations the store took on replay since start (one per key, one per clear). */
  replayed: number
}

// While debt is pending, a replay is tried this often. The breaker's own `duration` (1 s by
// default) decides when a replay may reach a store that failed; a short interval adds at most this
// much to the 2 s within which a store that answers again must have every deferred invalidation.
const REPLAY_INTERVAL_MS = 250
// Keys per replay round (one `deleteMany`, and record writes), so that a large debt is replayed
// in commands of a reasonable size; rounds follow each other at once while the store takes them.
const REPLAY_BATCH = 100

/**
 * Invalidations the store did not take (it failed, hung, or the breaker was open), kept so that
 * none is lost. `Tiers` records them here; while any is pending:
 * - this instance treats what it invalidated as invalid: a key in debt reads as absent (a tag
 *   version record in debt reads as "no version", which matches no entry), and a pending clear
 *   makes every key of the namespace read as absent;
 * - a timer replays the debt until the store takes it; each replayed invalidation is then
 *   announced like any write, so every instance's L1 drops it;
 * - a later write of a key that the store acknowledged supersedes the key's debt: what the store
 *   holds then is newer than what the invalidation was about.
 *
 * Bounded: above `maxKeys` keys the per-key debt is dropped for one clear of the namespace (a new
 * generation of it: every entry gone, every tag without a version), and every read of the
 * namespace misses on this instance until the store took that clear.
 *
 * The debt lives in this process: a restart loses it (the new process has an empty L1, but other
 * instances may keep serving what it covered until their TTL).
 */
export class InvalidationDebt {
  /** Whether anything is pending: the one check every read pays while nothing is. */
  active = false
  readonly #safe: SafeStore
  readonly #settings: DebtSettings
  readonly #prefix: string
  readonly #onReplayed: (replayed: Replayed) => void
  readonly #items = new Map<string, DebtItem>()
  #clear: ClearItem | undefined
  #seq = 0
  // A replayed clear in flight: it may run in the store before or after a deferral made meanwhile,
  // so it does not cover those (see `defer`).
  #clearing = false
  // Clears sent to the store and not answered yet (`Tiers#clear`): their prefix reads as absent
  // here meanwhile. Redis clears with SCAN and UNLINK over several round trips, and a read issued
  // after `clear()` was called would otherwise find an entry the clear has not reached yet.
  readonly #clearsInFlight: string[] = []
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false
  #lastLog = 0
  #suppressed = 0
  readonly #counters = { overflowed: 0, deferred: 0, replayed: 0 }

  constructor(safe: SafeStore, settings: DebtSettings, onReplayed: (replayed: Replayed) => void) {
    this.#safe = safe
    this.#settings = settings
    this.#prefix = `${settings.namespace}:`
    this.#onReplayed = onReplayed
  }

  /** The current place in deferral order: a write takes it when it starts (see `settled`). */
  get seq(): number {
    return this.#seq
  }

  stats(): DebtStats {
    return { pending: this.#pending(), ...this.#counters }
  }

  /** Whether `key` must read as absent on this instance. */
  masks(key: string): boolean {
    const clear = this.#clear
    return (
      (clear !== undefined && key.startsWith(clear.prefix)) ||
      this.#items.has(key) ||
      (this.#clearsInFlight.length !== 0 && this.#clearsInFlight.some((prefix) => key.startsWith(prefix)))
    )
  }

  /** A clear of `prefix` is sent: its keys read as absent until {@link endClear}. */
  beginClear(prefix: string): void {
    this.#clearsInFlight.push(prefix)
    this.active = true
  }

  /** The store answered the clear of `prefix` (taken or not: a failed one is deferred first). */
  endClear(prefix: string): void {
    const at = this.#clearsInFlight.indexOf(prefix)
    if (at !== -1) this.#clearsInFlight.splice(at, 1)
    this.#update()
  }

  /** `found` (one slot per key of `keys`), with the slots of keys in debt emptied. */
  mask(
    found: ReadonlyArray<StoredEntry | undefined>,
    keys: readonly string[],
  ): ReadonlyArray<StoredEntry | undefined> {
    let out: Array<StoredEntry | undefined> | undefined
    for (let i = 0; i < keys.length; i++) {
      if (found[i] !== undefined && this.masks(keys[i]!)) {
        out ??= [...found]
        out[i] = undefined
      }
    }
    return out ?? found
  }

  /**
   * Records that the store did not take the deletion of `keys` (without `entry`) or the write of
   * `entry` under each of them (tag version records).
   */
  defer(keys: readonly string[], entry?: StoredEntry, ttlMs = 0): void {
    if (keys.length === 0) return
    this.#counters.deferred += keys.length
    // A pending clear of the namespace not yet sent removes these keys too when it runs.
    if (
      this.#clear === undefined ||
      this.#clearing ||
      !keys.every((key) => key.startsWith(this.#clear!.prefix))
    ) {
      // One item for the keys of one deferral: each key's slot is compared by identity.
      const item: DebtItem = { entry, ttlMs, seq: ++this.#seq }
      for (const key of keys) this.#items.set(key, item)
      if (this.#items.size > this.#settings.maxKeys) this.#overflow()
    }
    this.#deferred()
  }

  /** Records that the store did not take `clear(prefix)`. */
  deferClear(prefix: string): void {
    this.#counters.deferred++
    this.#clear = { prefix, seq: ++this.#seq }
    this.#deferred()
  }

  /**
   * The store acknowledged a write or a delete of `keys` that started at `since` (the `seq` of
   * then): their debt from before it is paid.
   */
  settled(keys: readonly string[], since: number): void {
    for (const key of keys) {
      const item = this.#items.get(key)
      if (item !== undefined && item.seq <= since) this.#items.delete(key)
    }
    this.#update()
  }

  /** The store acknowledged a clear of the namespace that started at `since`. */
  cleared(since: number): void {
    if (this.#clear !== undefined && this.#clear.seq <= since) this.#clear = undefined
    for (const [key, item] of this.#items) if (item.seq <= since) this.#items.delete(key)
    this.#update()
  }

  /**
   * Starts a replay round now (bounded by the store's own timeout) unless one runs; answers the
   * round in flight, if any. For `close()`: one last chance for the debt to reach the store.
   */
  replayNow(): Promise<void> | undefined {
    if (this.#running === undefined && this.active && !this.#stopped) this.#run(false)
    return this.#running
  }

  /** Stops replaying (the cache is closed). */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #deferred(): void {
    this.active = true
    this.#publish('deferred')
    this.#warn()
    this.#schedule(REPLAY_INTERVAL_MS)
  }

  #overflow(): void {
    this.#items.clear()
    this.#clear = { prefix: this.#prefix, seq: ++this.#seq }
    this.#counters.overflowed++
    this.#publish('overflow')
    this.#settings.logger.warn(
      {
        namespace: this.#settings.namespace,
        store: this.#safe.store.name,
        maxInvalidationDebt: this.#settings.maxKeys,
      },
      'cache invalidation debt overflowed: every read of the namespace misses on this instance until the store takes a clear of it',
    )
  }

  #pending(): number {
    return this.#items.size + (this.#clear === undefined ? 0 : 1)
  }

  #update(): void {
    const active = this.#items.size !== 0 || this.#clear !== undefined || this.#clearsInFlight.length !== 0
    if (active || !this.active) return
    this.active = false
    if (this.#lastLog !== 0) {
      this.#settings.logger.info(
        { namespace: this.#settings.namespace, store: this.#safe.store.name, suppressed: this.#suppressed },
        'cache invalidation debt replayed: the store has every deferred invalidation',
      )
    }
    // The next burst of deferrals logs at once.
    this.#lastLog = 0
    this.#suppressed = 0
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#running !== undefined || this.#stopped) return
    this.#timer = setTimeout(this.#tick, delayMs)
    // A pending replay never keeps the process alive.
    this.#timer.unref()
  }

  readonly #tick = (): void => {
    this.#timer = undefined
    if (this.active && !this.#stopped) this.#run(true)
  }

  #run(patient: boolean): void {
    const round = this.#round(patient).then(
      (progress) => progress,
      () => false,
    )
    this.#running = round.then((progress) => {
      this.#running = undefined
      // While the store takes the debt, the next batch follows at once.
      if (this.active) this.#schedule(progress ? 0 : REPLAY_INTERVAL_MS)
    })
  }

  /**
   * One replay round: the pending clear if there is one, else a batch of keys. The store calls go
   * through the safe store like any other, so while the breaker is open they are skipped at once,
   * and once its `duration` has passed the replay itself may be the probe that closes it. Answers
   * whether everything sent was taken.
   */
  async #round(patient: boolean): Promise<boolean> {
    const clear = this.#clear
    if (clear !== undefined) {
      const since = this.#seq
      this.#clearing = true
      let done: boolean
      try {
        done = await this.#safe.clear(
          clear.prefix,
          patient ? performance.now() + this.#settings.clearBudgetMs : undefined,
        )
      } finally {
        this.#clearing = false
      }
      if (!done) return false
      this.#counters.replayed++
      this.cleared(since)
      this.#onReplayed({ clearPrefix: clear.prefix })
      this.#publish('replayed')
      return true
    }
    const deletes: string[] = []
    const deleted: DebtItem[] = []
    const writes: string[] = []
    const written: DebtItem[] = []
    for (const [key, item] of this.#items) {
      if (item.entry === undefined) {
        deletes.push(key)
        deleted.push(item)
      } else {
        writes.push(key)
        written.push(item)
      }
      if (deletes.length + writes.length >= REPLAY_BATCH) break
    }
    if (deletes.length + writes.length === 0) return true
    const answers = await Promise.all<MaybePromise<boolean>>([
      deletes.length === 0 ? true : this.#safe.deleteMany(deletes),
      ...writes.map((key, i) => this.#safe.set(key, written[i]!.entry!, written[i]!.ttlMs)),
    ])
    const taken: string[] = []
    // An item is paid only if it is still the one sent: deferred again meanwhile, it stays.
    if (deletes.length > 0 && answers[0] === true) {
      for (let i = 0; i < deletes.length; i++) {
        const key = deletes[i]!
        if (this.#items.get(key) === deleted[i]) this.#items.delete(key)
        taken.push(key)
      }
    }
    for (let i = 0; i < writes.length; i++) {
      if (answers[i + 1] !== true) continue
      const key = writes[i]!
      if (this.#items.get(key) === written[i]) this.#items.delete(key)
      taken.push(key)
    }
    if (taken.length === 0) return false
    this.#counters.replayed += taken.length
    this.#update()
    this.#onReplayed({ keys: taken })
    this.#publish('replayed')
    return taken.length === deletes.length + writes.length
  }

  #publish(state: 'deferred' | 'replayed' | 'overflow'): void {
    if (!channels.invalidationDebt.hasSubscribers) return
    channels.invalidationDebt.publish({
      namespace: this.#settings.namespace,
      store: this.#safe.store.name,
      state,
      pending: this.#pending(),
    })
  }

  // One warn line per burst of deferrals, then at most one per `logIntervalMs` with the count of
  // those in between, as the safe store logs store failures.
  #warn(): void {
    const now = Date.now()
    if (this.#lastLog !== 0 && now - this.#lastLog < this.#settings.logIntervalMs) {
      this.#suppressed++
      return
    }
    this.#settings.logger.warn(
      {
        namespace: this.#settings.namespace,
        store: this.#safe.store.name,
        pending: this.#pending(),
        suppressed: this.#suppressed,
      },
      'cache invalidation deferred: the store did not take it; this instance treats it as applied and replays it when the store answers',
    )
    this.#lastLog = now
    this.#suppressed = 0
  }
}
