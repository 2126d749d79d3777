import type { CacheStore, MaybePromise, StoredEntry, StoreLock } from '../store.js'

/** What a {@link ChaosStore} does with each call. */
export type ChaosMode =
  | 'pass' // forward to the real store
  | 'throw' // throw synchronously
  | 'reject' // answer with a rejected Promise
  | 'hang' // answer with a Promise that never settles (a SIGSTOPped server, a full offline queue)
  | { delayMs: number } // forward after a delay (a slow request: the store is read late)
  | { replyDelayMs: number } // forward at once, answer after a delay (a slow reply: what was read arrives late)

/**
 * Wraps a real store and injects failures into it, for failure tests that need no mock: the
 * data still lives in the real store underneath. Counts the calls that reached it, so a test can
 * check that an open circuit breaker really stops traffic.
 */
export class ChaosStore implements CacheStore {
  readonly name: string
  readonly inner: CacheStore
  /** What calls do now; change it at any time. */
  mode: ChaosMode = 'pass'
  /** Calls received, whatever the mode. */
  calls = 0

  /** Present when the wrapped store has `add`. */
  readonly add?: (key: string, entry: StoredEntry, ttlMs: number) => MaybePromise<boolean>

  constructor(inner: CacheStore) {
    this.inner = inner
    this.name = `chaos(${inner.name})`
    const add = inner.add
    if (add !== undefined)
      this.add = (key, entry, ttlMs) => this.#run(() => add.call(inner, key, entry, ttlMs))
  }

  #run<T>(call: () => MaybePromise<T>): MaybePromise<T> {
    this.calls++
    const mode = this.mode
    if (mode === 'pass') return call()
    if (mode === 'throw') throw new Error('chaos: store throws')
    if (mode === 'reject') return Promise.reject(new Error('chaos: store rejects'))
    if (mode === 'hang') return new Promise<T>(() => {})
    if ('replyDelayMs' in mode) {
      let answer: Promise<T>
      try {
        answer = Promise.resolve(call())
      } catch (error) {
        answer = Promise.reject(error)
      }
      return new Promise<T>((resolve, reject) => {
        setTimeout(() => answer.then(resolve, reject), mode.replyDelayMs)
      })
    }
    return new Promise<T>((resolve, reject) => {
      setTimeout(() => {
        Promise.resolve().then(call).then(resolve, reject)
      }, mode.delayMs)
    })
  }

  get(key: string) {
    return this.#run(() => this.inner.get(key))
  }
  getMany(keys: readonly string[]) {
    return this.#run(() => this.inner.getMany(keys))
  }
  set(key: string, entry: StoredEntry, ttlMs: number) {
    return this.#run(() => this.inner.set(key, entry, ttlMs))
  }
  delete(key: string) {
    return this.#run(() => this.inner.delete(key))
  }
  deleteMany(keys: readonly string[]) {
    return this.#run(() => this.inner.deleteMany(keys))
  }
  clear(prefix: string) {
    return this.#run(() => this.inner.clear(prefix))
  }
  lock(key: string, ttlMs: number): MaybePromise<StoreLock | undefined> {
    const inner = this.inner
    if (inner.lock === undefined) return undefined
    return this.#run(() => inner.lock!(key, ttlMs))
  }
  close() {
    return this.inner.close()
  }
}
