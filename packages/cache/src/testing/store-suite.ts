import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cache } from '../cache.js'
import { channelNames } from '../channels.js'
import { createCache } from '../create-cache.js'
import { decodeEntry } from '../entry.js'
import type { FastifyPerfCacheOptions } from '../options.js'
import type { CacheStore, StoredEntry } from '../store.js'
import { refusedValues, supportedValues } from './value-cases.js'

/** How to run the conformance suite against one store implementation. */
export interface StoreSuiteOptions {
  /** Makes a fresh store for one case; the suite closes it afterwards. */
  createStore: () => CacheStore | Promise<CacheStore>
  /**
   * The store's TTL granularity in ms: 1 for stores that honour milliseconds (memory, Redis
   * `PX`), 1000 for stores that count whole seconds (Memcached). Expiry cases scale with it.
   * @default 1
   */
  ttlGranularityMs?: number
  /** Size of the "large value" case, in bytes. @default 1 MiB */
  largeValueBytes?: number
  /** Whether the store implements `lock()`; adds the lock cases. @default false */
  lock?: boolean
  /** Whether the store implements `add()` (set if absent); adds the add cases. @default false */
  add?: boolean
}

/** One case: a name and a function that throws (an `AssertionError`) when the store is wrong. */
export interface StoreSuiteCase {
  name: string
  run: () => Promise<void>
}

/**
 * A fresh entry for store tests: `value`, created now, fresh for a minute (stale and grace windows
 * after that), untagged; `extra` overrides any field.
 */
export function storedEntry(value: string | Uint8Array, extra: Partial<StoredEntry> = {}): StoredEntry {
  const now = Date.now()
  return {
    value,
    createdAt: now,
    freshUntil: now + 60_000,
    staleUntil: now + 90_000,
    graceUntil: now + 120_000,
    tags: [],
    tagVersions: [],
    ...extra,
  }
}

function assertSameEntry(actual: StoredEntry | undefined, expected: StoredEntry, what: string): void {
  assert.ok(actual, `${what}: entry missing`)
  if (typeof expected.value === 'string') {
    assert.equal(typeof actual.value, 'string', `${what}: a string value must come back as a string`)
    assert.equal(actual.value, expected.value, `${what}: value differs`)
  } else {
    assert.ok(actual.value instanceof Uint8Array, `${what}: a binary value must come back as a Uint8Array`)
    assert.ok(Buffer.from(actual.value).equals(Buffer.from(expected.value)), `${what}: bytes differ`)
  }
  assert.equal(actual.createdAt, expected.createdAt, `${what}: createdAt differs`)
  assert.equal(actual.freshUntil, expected.freshUntil, `${what}: freshUntil differs`)
  assert.equal(actual.staleUntil, expected.staleUntil, `${what}: staleUntil differs`)
  assert.equal(actual.graceUntil, expected.graceUntil, `${what}: graceUntil differs`)
  assert.deepEqual([...actual.tags], [...expected.tags], `${what}: tags differ`)
  assert.deepEqual([...actual.tagVersions], [...expected.tagVersions], `${what}: tagVersions differ`)
}

/** The UTF-16 code units of `text` spelled `\uXXXX`: well-formed, for messages and values. */
function units(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) out += `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`
  return out
}

/** Polls `read` every 5 ms until it answers something other than `undefined`, for up to 2 s. */
async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  const until = Date.now() + 2000
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() > until) assert.fail(`${what}: still a miss after 2 s`)
    await sleep(5)
  }
}

/**
 * Two caches on one store and namespace, as two instances of a service (each with its own L1 when
 * `l1` is given): every supported value written by the first reads back `deepStrictEqual` from
 * both, through `set`/`get` and through `getOrSet`.
 */
async function checkRoundTrips(store: CacheStore, namespace: string, l1: boolean): Promise<void> {
  const options: FastifyPerfCacheOptions = {
    store,
    namespace,
    storeTimeout: '2s',
    breaker: false,
    ...(l1 ? { l1: { maxSize: '1MB' } } : {}),
  }
  const writer = createCache(options)
  const reader = createCache(options)
  try {
    for (const [i, { name, value }] of supportedValues().entries()) {
      await writer.set(`set:${i}`, value)
      assert.deepStrictEqual(await writer.get(`set:${i}`), value, `${name}: set, then get on the writer`)
      assert.deepStrictEqual(await reader.get(`set:${i}`), value, `${name}: set, then get on another cache`)
      const produced = await writer.getOrSet(`gos:${i}`, () => value)
      assert.deepStrictEqual(produced, value, `${name}: what getOrSet returned`)
      // getOrSet answers before its write lands: wait for it on the other cache.
      const fromStore = await eventually(() => reader.get(`gos:${i}`), `${name}: getOrSet's write`)
      assert.deepStrictEqual(fromStore, value, `${name}: getOrSet, then get on another cache`)
      const fail = () => assert.fail(`${name}: a hit ran the factory`)
      assert.deepStrictEqual(await writer.getOrSet(`gos:${i}`, fail), value, `${name}: getOrSet hit, writer`)
      assert.deepStrictEqual(await reader.getOrSet(`gos:${i}`, fail), value, `${name}: getOrSet hit, other`)
    }
  } finally {
    await writer.close()
    await reader.close()
    await store.clear(`${namespace}:`)
  }
}

/** Every refused value: `set` rejects with the code and the place; `getOrSet` returns it, stores nothing, reports it. */
async function checkRefusals(store: CacheStore, namespace: string, l1: boolean): Promise<void> {
  const cache: Cache = createCache({
    store,
    namespace,
    storeTimeout: '2s',
    breaker: false,
    ...(l1 ? { l1: { maxSize: '1MB' } } : {}),
  })
  const reported: unknown[] = []
  const onStoreError = (message: unknown) => {
    const { operation, error } = message as { operation: string; error: { code?: string } }
    if (operation === 'serialize' && error.code === 'FST_PERF_CACHE_SERIALIZE') reported.push(error)
  }
  subscribe(channelNames.storeError, onStoreError)
  try {
    for (const [i, { name, value, where }] of refusedValues().entries()) {
      await assert.rejects(
        cache.set(`bad:${i}`, value),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'FST_PERF_CACHE_SERIALIZE', name)
          assert.ok(
            error.message.includes(`: ${where} (`),
            `${name}: "${error.message}" does not name ${where}`,
          )
          return true
        },
        name,
      )
      assert.equal(await cache.get(`bad:${i}`), undefined, `${name}: stored although refused`)
      const before = reported.length
      assert.equal(await cache.getOrSet(`bad-gos:${i}`, () => value), value, `${name}: getOrSet's own result`)
      await eventually(async () => (reported.length > before ? true : undefined), `${name}: the report`)
      assert.equal(await cache.get(`bad-gos:${i}`), undefined, `${name}: getOrSet stored it`)
    }
  } finally {
    unsubscribe(channelNames.storeError, onStoreError)
    await cache.close()
    await store.clear(`${namespace}:`)
  }
}

/**
 * The behaviour every `CacheStore` must have, as a list of cases any test runner can run:
 *
 * ```ts
 * import { test } from 'node:test'
 * import { storeSuite } from '@fastify-perf/cache/testing'
 * for (const c of storeSuite({ createStore: () => new MyStore() })) test(c.name, c.run)
 * ```
 *
 * Each case works under its own random key prefix, so the suite can run against a server other
 * tests share; it never clears more than its own prefix.
 */
export function storeSuite(options: StoreSuiteOptions): StoreSuiteCase[] {
  const granularity = options.ttlGranularityMs ?? 1
  const largeBytes = options.largeValueBytes ?? 1024 * 1024

  const withStore = (
    name: string,
    body: (store: CacheStore, prefix: string) => Promise<void>,
  ): StoreSuiteCase => ({
    name,
    run: async () => {
      const store = await options.createStore()
      // No ':' in the case prefix: a store may treat the text up to the first ':' as the
      // namespace that `clear()` works on (see CacheStore.clear).
      const prefix = `conformance-${randomBytes(6).toString('hex')}-`
      try {
        await body(store, prefix)
      } finally {
        await store.deleteMany([`${prefix}k`])
        await store.close()
      }
    },
  })

  const lockCases: StoreSuiteCase[] = [
    withStore(
      'lock: of concurrent takers exactly one gets the lock, and release frees it',
      async (store, p) => {
        assert.equal(typeof store.lock, 'function', 'the store has no lock()')
        const takers = await Promise.all(Array.from({ length: 20 }, () => store.lock!(`${p}lock`, 10_000)))
        const holders = takers.filter((l) => l !== undefined)
        assert.equal(holders.length, 1)
        assert.equal(await store.lock!(`${p}lock`, 10_000), undefined, 'a held lock was taken again')
        await holders[0]!.release()
        const again = await store.lock!(`${p}lock`, 10_000)
        assert.ok(again, 'the released lock could not be taken')
        await again.release()
      },
    ),
    withStore(
      'lock: an expired lock can be taken, and its old holder cannot release the new one',
      async (store, p) => {
        const ttl = Math.max(200, granularity * 2)
        const old = await store.lock!(`${p}lock`, ttl)
        assert.ok(old)
        await sleep(ttl + granularity + 100)
        const fresh = await store.lock!(`${p}lock`, 10_000)
        assert.ok(fresh, 'an expired lock was still held')
        await old.release()
        assert.equal(
          await store.lock!(`${p}lock`, 10_000),
          undefined,
          'the old holder released the new holder’s lock',
        )
        await fresh.release()
      },
    ),
  ]

  const addCases: StoreSuiteCase[] = [
    withStore(
      'add: writes only when the key holds nothing, and answers whether it wrote',
      async (store, p) => {
        assert.equal(typeof store.add, 'function', 'the store has no add()')
        const first = storedEntry('first')
        assert.equal(await store.add!(`${p}k`, first, 60_000), true, 'add on a missing key did not write')
        assertSameEntry(await store.get(`${p}k`), first, 'after add')
        assert.equal(await store.add!(`${p}k`, storedEntry('second'), 60_000), false, 'add replaced an entry')
        assertSameEntry(await store.get(`${p}k`), first, 'after a refused add')
        await store.set(`${p}k`, storedEntry('third'), 60_000)
        assert.equal((await store.get(`${p}k`))?.value, 'third', 'set after add did not replace')
      },
    ),
    withStore(
      'add: of concurrent adds for one key exactly one writes, and its entry is the one kept',
      async (store, p) => {
        const entries = Array.from({ length: 20 }, (_, i) => storedEntry(`v${i}`))
        const answers = await Promise.all(entries.map((e) => store.add!(`${p}k`, e, 60_000)))
        const winners = answers.flatMap((added, i) => (added ? [i] : []))
        assert.equal(winners.length, 1, `${winners.length} of 20 concurrent adds wrote`)
        assertSameEntry(await store.get(`${p}k`), entries[winners[0]!]!, 'the winner')
      },
    ),
    withStore('add: an expired entry counts as absent', async (store, p) => {
      const ttl = Math.max(100, granularity)
      assert.equal(await store.add!(`${p}k`, storedEntry('old'), ttl), true)
      await sleep(ttl + granularity + 100)
      assert.equal(
        await store.add!(`${p}k`, storedEntry('new'), 60_000),
        true,
        'add refused over an expired entry',
      )
      assert.equal((await store.get(`${p}k`))?.value, 'new')
    }),
  ]

  return [
    ...(options.lock === true ? lockCases : []),
    ...(options.add === true ? addCases : []),
    withStore('get answers undefined for a missing key', async (store, p) => {
      assert.equal(await store.get(`${p}missing`), undefined)
    }),

    withStore(
      'getBytes (when the store has it) answers the bytes of the entry get answers',
      async (store, p) => {
        if (store.getBytes === undefined) return
        assert.equal((await store.getBytes(`${p}missing`)) ?? undefined, undefined, 'a missing key has bytes')
        const e = storedEntry('{"hello":"world"}', { tags: ['a'], tagVersions: ['1', '2'] })
        await store.set(`${p}k`, e, 60_000)
        const bytes = await store.getBytes(`${p}k`)
        assert.ok(bytes instanceof Uint8Array, `getBytes answered ${typeof bytes}`)
        assertSameEntry(decodeEntry(bytes), e, 'decodeEntry(getBytes())')
        assertSameEntry(await store.get(`${p}k`), e, 'get()')
        await store.delete(`${p}k`)
        assert.equal((await store.getBytes(`${p}k`)) ?? undefined, undefined, 'deleted, still has bytes')
      },
    ),

    withStore(
      'readBytes (when the store has it) calls back once with the bytes of the entry get answers',
      async (store, p) => {
        if (store.readBytes === undefined) return
        const readBytes = store.readBytes.bind(store)
        // Answers what the callback got, and fails if it is called a second time within 50 ms.
        const read = (key: string) =>
          new Promise<Uint8Array | null | undefined>((resolve, reject) => {
            let calls = 0
            readBytes(key, (error, bytes) => {
              calls++
              if (calls > 1) return
              if (error != null) reject(error)
              else setTimeout(() => (calls === 1 ? resolve(bytes) : reject(new Error('called twice'))), 50)
            })
          })
        assert.equal((await read(`${p}missing`)) ?? undefined, undefined, 'a missing key has bytes')
        const e = storedEntry('{"hello":"world"}', { tags: ['a'], tagVersions: ['1', '2'] })
        await store.set(`${p}k`, e, 60_000)
        const bytes = await read(`${p}k`)
        assert.ok(bytes instanceof Uint8Array, `readBytes answered ${typeof bytes}`)
        assertSameEntry(decodeEntry(bytes), e, 'decodeEntry(readBytes())')
        assertSameEntry(await store.get(`${p}k`), e, 'get()')
        await store.delete(`${p}k`)
        assert.equal((await read(`${p}k`)) ?? undefined, undefined, 'deleted, still has bytes')
      },
    ),

    withStore('set then get returns the same entry, every field', async (store, p) => {
      const e = storedEntry('{"hello":"world"}', { tags: ['a', 'b:c'], tagVersions: ['1', '2', '3', '4'] })
      await store.set(`${p}k`, e, 60_000)
      assertSameEntry(await store.get(`${p}k`), e, 'string entry')
    }),

    withStore('binary values round-trip byte-exact and stay binary', async (store, p) => {
      const all = Buffer.alloc(256)
      for (let i = 0; i < 256; i++) all[i] = i
      // A view with a non-zero offset into a larger buffer: only the view's bytes belong to the value.
      const backing = new Uint8Array(264)
      backing.set(all, 4)
      const view = new Uint8Array(backing.buffer, 4, 256)
      const e = storedEntry(view)
      await store.set(`${p}bin`, e, 60_000)
      assertSameEntry(
        await store.get(`${p}bin`),
        storedEntry(all, {
          createdAt: e.createdAt,
          freshUntil: e.freshUntil,
          staleUntil: e.staleUntil,
          graceUntil: e.graceUntil,
        }),
        'binary entry',
      )
      const empty = storedEntry(new Uint8Array(0))
      await store.set(`${p}empty-bin`, empty, 60_000)
      assertSameEntry(await store.get(`${p}empty-bin`), empty, 'empty binary entry')
      const emptyString = storedEntry('')
      await store.set(`${p}empty-str`, emptyString, 60_000)
      assertSameEntry(await store.get(`${p}empty-str`), emptyString, 'empty string entry')
    }),

    withStore('unicode values round-trip', async (store, p) => {
      const e = storedEntry('žluťoučký kůň 🐎 — 日本語 — \u0000 nul — \r\n crlf')
      await store.set(`${p}unicode`, e, 60_000)
      assertSameEntry(await store.get(`${p}unicode`), e, 'unicode entry')
    }),

    withStore('awkward keys are distinct and round-trip', async (store, p) => {
      const keys = [
        'ключ',
        '🔑 emoji key',
        'with space',
        'new\nline',
        'tab\tkey',
        'colon:semi;slash/back\\slash',
        '%2F..%2E%2E',
        'nul\u0000byte',
        'a'.repeat(300),
        `${'a'.repeat(299)}b`,
        'UPPER',
        'upper',
      ]
      for (const [i, key] of keys.entries()) await store.set(p + key, storedEntry(`value-${i}`), 60_000)
      for (const [i, key] of keys.entries()) {
        const got = await store.get(p + key)
        assert.equal(got?.value, `value-${i}`, `key ${JSON.stringify(key.slice(0, 40))} mixed up`)
      }
    }),

    withStore('keys differing only in lone surrogates or in their UTF-8 stay distinct', async (store, p) => {
      // A lone surrogate has no UTF-8 form: a client that encodes keys as UTF-8 replaces it with
      // U+FFFD, so '\uD800', '\uDBFF' and '\uFFFD' would become one key and overwrite each other.
      const deep = 'd'.repeat(120)
      const long = 'x'.repeat(300)
      const keys = [
        '\uD800',
        '\uDBFF',
        '\uFFFD',
        '\uDC00',
        '\uDFFF',
        `${deep}\uD800${deep}`,
        `${deep}\uDC00${deep}`,
        `${deep}\uFFFD${deep}`,
        '\uD83D\uDE00', // a pair: U+1F600
        '\uDE00\uD83D', // the same code units reversed: two lone surrogates
        '\uD83D\uFFFD',
        '\uFFFD\uDE00',
        '\uFFFD\uFFFD',
        '\uD83D',
        '\uDE00',
        `${long}\uD800`,
        `${long}\uFFFD`,
        '{\uD800}tag',
        '{\uFFFD}tag',
      ]
      const full = keys.map((k) => `${p}u:${k}`)
      assert.equal(new Set(full).size, full.length)
      for (const [i, key] of full.entries()) await store.set(key, storedEntry(`value-${i}`), 60_000)
      const check = async (absent: ReadonlySet<number>, what: string) => {
        const many = await store.getMany(full)
        for (const [i, key] of full.entries()) {
          const expected = absent.has(i) ? undefined : `value-${i}`
          const name = JSON.stringify(keys[i]!.slice(-8))
          assert.equal((await store.get(key))?.value, expected, `${what}: get of key …${name}`)
          assert.equal(many[i]?.value, expected, `${what}: getMany of key …${name}`)
        }
      }
      await check(new Set(), 'after set')
      assert.equal(await store.delete(full[2]!), true, "delete of '\\uFFFD'")
      assert.equal(await store.delete(full[2]!), false, "delete of '\\uFFFD' again")
      await check(new Set([2]), "after deleting '\\uFFFD'")
      assert.equal(await store.deleteMany([full[0]!, full[7]!, full[2]!]), 2)
      await check(new Set([0, 2, 7]), 'after deleteMany')
      // clear() of a namespace reaches these keys, and a namespace that differs from it only in a
      // lone surrogate is another namespace.
      await store.set(`${p}\uD800:k`, storedEntry('lone'), 60_000)
      await store.set(`${p}\uFFFD:k`, storedEntry('replacement'), 60_000)
      await store.clear(`${p}u:`)
      assert.deepEqual(
        (await store.getMany(full)).filter((e) => e !== undefined),
        [],
        'clear(prefix) left some of its keys',
      )
      await store.clear(`${p}\uD800:`)
      assert.equal(await store.get(`${p}\uD800:k`), undefined, 'clear of a lone-surrogate namespace')
      assert.equal((await store.get(`${p}\uFFFD:k`))?.value, 'replacement', 'clear reached another namespace')
      await store.clear(`${p}\uFFFD:`)
    }),

    withStore('a large value round-trips', async (store, p) => {
      const big = randomBytes(largeBytes)
      const e = storedEntry(big)
      await store.set(`${p}large`, e, 60_000)
      assertSameEntry(await store.get(`${p}large`), e, `${largeBytes}-byte entry`)
    }),

    withStore('set replaces the previous entry', async (store, p) => {
      await store.set(`${p}k`, storedEntry('one'), 60_000)
      const two = storedEntry('two')
      await store.set(`${p}k`, two, 60_000)
      assertSameEntry(await store.get(`${p}k`), two, 'replaced entry')
    }),

    withStore('delete removes an entry and says whether it existed', async (store, p) => {
      await store.set(`${p}k`, storedEntry('v'), 60_000)
      assert.equal(await store.delete(`${p}k`), true)
      assert.equal(await store.get(`${p}k`), undefined)
      assert.equal(await store.delete(`${p}k`), false)
    }),

    withStore('getMany answers in order with holes for missing keys', async (store, p) => {
      await store.set(`${p}a`, storedEntry('A'), 60_000)
      await store.set(`${p}c`, storedEntry('C'), 60_000)
      const got = await store.getMany([`${p}a`, `${p}b`, `${p}c`, `${p}a`])
      assert.equal(got.length, 4)
      assert.deepEqual(
        got.map((e) => e?.value),
        ['A', undefined, 'C', 'A'],
      )
      assert.deepEqual(await store.getMany([]), [])
    }),

    withStore('deleteMany removes the keys and counts those that existed', async (store, p) => {
      await store.set(`${p}a`, storedEntry('A'), 60_000)
      await store.set(`${p}b`, storedEntry('B'), 60_000)
      await store.set(`${p}keep`, storedEntry('K'), 60_000)
      assert.equal(await store.deleteMany([`${p}a`, `${p}b`, `${p}never`]), 2)
      assert.deepEqual(
        (await store.getMany([`${p}a`, `${p}b`, `${p}keep`])).map((e) => e?.value),
        [undefined, undefined, 'K'],
      )
    }),

    withStore('an entry expires when its ttl has passed, not before', async (store, p) => {
      const ttl = Math.max(200, granularity * 2)
      await store.set(`${p}short`, storedEntry('v'), ttl)
      await store.set(`${p}long`, storedEntry('v'), ttl * 20)
      await sleep(ttl / 4)
      assert.ok(await store.get(`${p}short`), 'gone before its ttl')
      // A store counting whole seconds may round the ttl up by one unit.
      await sleep(ttl + granularity + 100)
      assert.equal(await store.get(`${p}short`), undefined, 'still there after its ttl')
      assert.ok(await store.get(`${p}long`), 'an entry with a longer ttl went too')
    }),

    withStore('concurrent writers: last write wins intact, distinct keys all land', async (store, p) => {
      const values = Array.from({ length: 50 }, (_, i) => `writer-${i}-${'x'.repeat(i * 10)}`)
      await Promise.all(values.map((v) => store.set(`${p}contended`, storedEntry(v), 60_000)))
      const final = await store.get(`${p}contended`)
      assert.ok(
        final && values.includes(final.value as string),
        'the contended key holds a torn or foreign value',
      )
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.set(`${p}many:${i}`, storedEntry(`v${i}`), 60_000)),
      )
      const got = await store.getMany(Array.from({ length: 200 }, (_, i) => `${p}many:${i}`))
      for (const [i, e] of got.entries()) assert.equal(e?.value, `v${i}`, `many:${i}`)
    }),

    withStore('clear(prefix) removes its prefix only', async (store, p) => {
      await store.set(`${p}ns1:a`, storedEntry('A'), 60_000)
      await store.set(`${p}ns1:b`, storedEntry('B'), 60_000)
      await store.set(`${p}ns2:a`, storedEntry('C'), 60_000)
      await store.clear(`${p}ns1:`)
      assert.deepEqual(
        (await store.getMany([`${p}ns1:a`, `${p}ns1:b`, `${p}ns2:a`])).map((e) => e?.value),
        [undefined, undefined, 'C'],
      )
    }),

    {
      name: 'close can be called twice',
      run: async () => {
        const store = await options.createStore()
        await store.close()
        await store.close()
      },
    },

    withStore(
      'values: every supported type reads back deepStrictEqual on the writer and on another cache (set/get, getOrSet)',
      (store, p) => checkRoundTrips(store, `v${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`, false),
    ),

    withStore(
      'values with an L1 tier: the same, each cache with its own L1 in front of this store',
      (store, p) => checkRoundTrips(store, `l${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`, true),
    ),

    withStore(
      'values: other types are refused at set with FST_PERF_CACHE_SERIALIZE naming where, and getOrSet stores nothing',
      async (store, p) => {
        await checkRefusals(store, `r${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`, false)
        await checkRefusals(store, `q${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`, true)
      },
    ),

    withStore('the engine on this store: getOrSet, tags and expire mode', async (store, p) => {
      const namespace = `c${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`
      // The engine with a generous store timeout: this case checks behaviour, not speed.
      const cache = createCache({
        store,
        namespace,
        staleWhileRevalidate: '1m',
        storeTimeout: '2s',
        breaker: false,
      })
      try {
        let calls = 0
        const factory = async () => `v${++calls}`
        assert.equal(await cache.getOrSet('t', factory, { tags: ['products', 'p:1'] }), 'v1')
        assert.equal(
          await cache.getOrSet('t', factory, { tags: ['products', 'p:1'] }),
          'v1',
          'a fresh entry was not a hit',
        )
        assert.equal(await cache.getOrSet('untagged', factory), 'v2')
        await cache.invalidateTags(['p:1'])
        assert.equal(
          await cache.getOrSet('t', factory, { tags: ['products', 'p:1'] }),
          'v3',
          'hard invalidation did not miss',
        )
        assert.equal(await cache.getOrSet('untagged', factory), 'v2', 'an untagged entry was invalidated')
        await cache.invalidateTags(['products'], { mode: 'expire' })
        // Expired, not deleted: the stale value is served while one background refresh runs.
        assert.equal(await cache.getOrSet('t', factory, { tags: ['products', 'p:1'] }), 'v3')
        await cache.close()
        assert.equal(await cache.get('t'), undefined, 'a closed cache must not read')
      } finally {
        await store.clear(`${namespace}:`)
      }
    }),

    withStore(
      'the engine on this store: keys and tags differing only in a lone surrogate',
      async (store, p) => {
        const namespace = `c${p.replace(/[^A-Za-z0-9]/g, '').slice(-16)}`
        const cache = createCache({ store, namespace, storeTimeout: '2s', breaker: false })
        try {
          const names = ['\uD800', '\uDBFF', '\uFFFD']
          // Each key carries the tag of its own name: tags are stored inside the entry, and a tag
          // read back as U+FFFD would be checked against (and invalidated with) another tag.
          for (const name of names) await cache.set(name, `value ${units(name)}`, { tags: [name] })
          for (const name of names) {
            assert.equal(await cache.get(name), `value ${units(name)}`, `key ${units(name)}`)
          }
          await cache.invalidateTags(['\uFFFD'])
          assert.equal(await cache.get('\uFFFD'), undefined, "invalidating tag '\\uFFFD' missed its entry")
          assert.equal(
            await cache.get('\uD800'),
            'value \\ud800',
            "invalidating tag '\\uFFFD' reached '\\uD800'",
          )
          await cache.invalidateTags(['\uD800'])
          assert.equal(await cache.get('\uD800'), undefined, "invalidating tag '\\uD800' missed its entry")
          assert.equal(
            await cache.get('\uDBFF'),
            'value \\udbff',
            "invalidating tag '\\uD800' reached '\\uDBFF'",
          )
          await cache.close()
        } finally {
          await store.clear(`${namespace}:`)
        }
      },
    ),
  ]
}
