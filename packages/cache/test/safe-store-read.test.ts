// SafeStore#read: a remote read's continuation, joined readers, getBytes and readBytes decoding,
// and that an answered call is not kept reachable by the deadline queue while later calls wait.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { type CacheStore, decodeEntry, encodeEntry, SafeStore, type StoredEntry } from '../src/index.js'
import { storedEntry } from '../src/testing/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

type ReadMode = 'get' | 'getBytes' | 'readBytes'

/** A remote-like store whose reads answer when the test says so, through `get`, `getBytes` or `readBytes`. */
function lateStore(mode: ReadMode) {
  const waiting = new Map<string, (bytes: Buffer | null) => void>()
  const data = new Map<string, Buffer>()
  const read = (key: string) =>
    new Promise<Buffer | null>((resolve) => {
      waiting.set(key, resolve)
    })
  const store: CacheStore = {
    name: 'late',
    get: (key) => read(key).then((bytes) => (bytes === null ? undefined : decodeEntry(bytes))),
    getMany: async () => [],
    set: async (key, e) => {
      data.set(key, encodeEntry(e))
    },
    delete: async () => true,
    deleteMany: async () => 0,
    clear: async () => {},
    close: () => {},
    ...(mode === 'getBytes' ? { getBytes: read } : {}),
    ...(mode === 'readBytes'
      ? {
          readBytes: (key: string, done: (error: unknown, bytes: Buffer | null) => void) => {
            waiting.set(key, (bytes) => done(null, bytes))
          },
        }
      : {}),
  }
  const answer = (key: string) => {
    const resolve = waiting.get(key)
    assert.ok(resolve, `no read of ${key} waiting`)
    waiting.delete(key)
    resolve(data.get(key) ?? null)
  }
  return { store, data, answer, waiting }
}

function safeStore(store: CacheStore): SafeStore {
  return new SafeStore(store, {
    timeoutMs: 5000,
    breakerThreshold: 5,
    breakerDurationMs: 1000,
    logIntervalMs: 10_000,
    logger: { warn() {}, info() {} },
  })
}

for (const mode of ['get', 'getBytes', 'readBytes'] as const) {
  test(`SafeStore#read (${mode}): the continuation gets the entry and the deadline, joiners get theirs, plain readers the entry`, async () => {
    const { store, data, answer } = lateStore(mode)
    data.set('k', encodeEntry(storedEntry('v')))
    const safe = safeStore(store)
    const seen: Array<[string, unknown]> = []
    const lead = safe.read('k', undefined, (e, deadline) => {
      seen.push(['lead', e?.value])
      assert.ok(deadline > performance.now(), 'the deadline is the read budget, still ahead')
      return `lead:${e?.value}`
    })
    const plain = safe.get('k')
    const joiner = safe.read('k', undefined, (e) => `joiner:${e?.value}`)
    const thrower = safe.read('k', undefined, () => {
      throw new Error('from the continuation')
    })
    assert.ok(lead instanceof Promise && plain instanceof Promise && joiner instanceof Promise)
    assert.equal(safe.joinedReads, 3)
    answer('k')
    assert.equal(await lead, 'lead:v')
    assert.equal(((await plain) as StoredEntry).value, 'v')
    assert.equal(await joiner, 'joiner:v')
    await assert.rejects(thrower as Promise<unknown>, /from the continuation/)
    assert.deepEqual(seen, [['lead', 'v']])
    // A miss: the continuation runs with undefined.
    const missing = safe.read('absent', undefined, (e) => e === undefined)
    answer('absent')
    assert.equal(await missing, true)
  })
}

for (const mode of ['getBytes', 'readBytes'] as const) {
  test(`SafeStore#read with ${mode}: bytes that are no entry are a miss, not a failure`, async () => {
    const { store, data, answer } = lateStore(mode)
    data.set('k', Buffer.from('not an entry'))
    const safe = safeStore(store)
    const found = safe.read('k', undefined, (e) => e)
    answer('k')
    assert.equal(await found, undefined)
    assert.equal(safe.errors, 0)
  })
}

/** A store with `readBytes` only for reads, doing what `behave` says with each read. */
function callbackStore(
  behave: (key: string, done: (error: unknown, bytes: Uint8Array | null) => void) => void,
) {
  const store: CacheStore = {
    name: 'callback',
    get: async () => {
      throw new Error('get must not be called when readBytes is there')
    },
    readBytes: behave,
    getMany: async () => [],
    set: async () => {},
    delete: async () => true,
    deleteMany: async () => 0,
    clear: async () => {},
    close: () => {},
  }
  return store
}

test('SafeStore#read with readBytes: a callback called at once still settles the read through the continuation', async () => {
  const bytes = encodeEntry(storedEntry('now'))
  const safe = safeStore(callbackStore((_key, done) => done(null, bytes)))
  const found = safe.read('k', undefined, (e) => `then:${e?.value}`)
  assert.ok(found instanceof Promise)
  assert.equal(await found, 'then:now')
  // Nothing left in flight: the next read of the key is a read of its own, not a join.
  assert.equal(await safe.read('k', undefined, (e) => e?.value), 'now')
  assert.equal(safe.joinedReads, 0)
  assert.equal(safe.errors, 0)
})

test('SafeStore#read with readBytes: an error in the callback, a throw and a callback never called are misses and failures', async () => {
  const failing = safeStore(
    callbackStore((_key, done) => done(new Error('connection reset'), undefined as never)),
  )
  assert.equal(await failing.read('k', undefined, (e) => e ?? 'miss'), 'miss')
  assert.equal(failing.errors, 1)

  const throwing = safeStore(
    callbackStore(() => {
      throw new Error('thrown by readBytes')
    }),
  )
  assert.equal(await throwing.read('k', undefined, (e) => e ?? 'miss'), 'miss', 'a throw is a miss')
  assert.equal(throwing.errors, 1)

  const hung = new SafeStore(
    callbackStore(() => {}),
    {
      timeoutMs: 30,
      breakerThreshold: 5,
      breakerDurationMs: 1000,
      logIntervalMs: 10_000,
      logger: { warn() {}, info() {} },
    },
  )
  assert.equal(await hung.read('k', undefined, (e) => e ?? 'miss'), 'miss')
  assert.equal(hung.errors, 1)

  // A callback called twice (a store bug) settles once: the second answer is ignored.
  const bytes = encodeEntry(storedEntry('first'))
  const twice = safeStore(
    callbackStore((_key, done) => {
      done(null, bytes)
      done(new Error('second call'), undefined as never)
    }),
  )
  assert.equal(await twice.read('k', undefined, (e) => e?.value), 'first')
  assert.equal(twice.errors, 0)
})

for (const mode of ['getBytes', 'readBytes'] as const)
  test(`an answered read (${mode}) is not kept reachable by the deadline queue while later calls wait`, async () => {
    const { store, data, answer, waiting } = lateStore(mode)
    data.set('k', encodeEntry(storedEntry('v')))
    const safe = safeStore(store)
    // A call that stays in flight (the FIFO is not idle), then reads answered behind it: their
    // continuations must not stay reachable from the queue until the 5 s timer passes.
    const first = safe.read('first', undefined, (e) => e)
    let collected = 0
    const registry = new FinalizationRegistry(() => collected++)
    // Each read in a function of its own, so no frame of this test holds its value.
    const readOne = async (i: number) => {
      const value = { big: new Array(1000).fill(i) }
      const read = safe.read(`k${i}`, undefined, () => value)
      registry.register(value, i)
      data.set(`k${i}`, encodeEntry(storedEntry('v')))
      answer(`k${i}`)
      assert.equal(await read, value)
    }
    for (let i = 0; i < 50; i++) await readOne(i)
    assert.equal(waiting.size, 1)
    // `first` is still at the head: the answered calls behind it have dropped what they held.
    for (let round = 0; round < 10 && collected < 50; round++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.equal(collected, 50, `${collected} of 50 answered reads' values were collected`)
    answer('first')
    await first
    await safe.close()
  })

test('SafeStore#read: after a write drops a read in flight, the read that follows is the one later reads join, also once the dropped read ends', async () => {
  // Reads of one key queue here, so two reads of 'k' can be in flight at once.
  const waiting: Array<(bytes: Buffer | null) => void> = []
  let stored = encodeEntry(storedEntry('v1'))
  const store: CacheStore = {
    name: 'queue',
    get: async () => {
      throw new Error('getBytes is there')
    },
    getBytes: () =>
      new Promise<Buffer | null>((resolve) => {
        const bytes = stored
        waiting.push(() => resolve(bytes))
      }),
    getMany: async () => [],
    set: async (_key, e) => {
      stored = encodeEntry(e)
    },
    delete: async () => true,
    deleteMany: async () => 0,
    clear: async () => {},
    close: () => {},
  }
  for (const drop of ['set', 'delete', 'forgetReads', 'forgetReads(keys)'] as const) {
    const safe = safeStore(store)
    waiting.length = 0
    stored = encodeEntry(storedEntry('v1'))
    const first = safe.get('k')
    if (drop === 'set') await safe.set('k', storedEntry('v2'), 60_000)
    else {
      stored = encodeEntry(storedEntry('v2'))
      if (drop === 'delete') await safe.delete('k')
      else if (drop === 'forgetReads') safe.forgetReads()
      else safe.forgetReads(['k'])
    }
    const second = safe.get('k')
    assert.equal(safe.joinedReads, 0, `${drop}: the read after the write joined the one before it`)
    assert.equal(waiting.length, 2)
    waiting[0]!(null)
    assert.equal(((await first) as StoredEntry).value, 'v1')
    // The first read's end must not take the second out of the reads to join.
    const third = safe.get('k')
    assert.equal(safe.joinedReads, 1, `${drop}: the read after the first one ended did not join the second`)
    assert.equal(waiting.length, 2, `${drop}: a third store read was sent`)
    waiting[1]!(null)
    assert.equal(((await second) as StoredEntry).value, 'v2')
    assert.equal(((await third) as StoredEntry).value, 'v2')
    // And once the second ends, nothing is left to join.
    const fourth = safe.get('k')
    assert.equal(safe.joinedReads, 1, `${drop}: a read joined a read that had ended`)
    waiting[2]!(null)
    assert.equal(((await fourth) as StoredEntry).value, 'v2')
    await safe.close()
  }
})
