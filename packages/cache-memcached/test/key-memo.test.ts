import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeEntry, encodeEntry } from '@fastify-perf/cache'
import { storedEntry } from '@fastify-perf/cache/testing'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { memcachedServers, testKeyPrefix } from '@fastify-perf/test-helpers'
import memjs from 'memjs'
import { KEY_MEMO_SIZE } from '../src/memcached-store.js'

// The store remembers the memcached key of each engine key while its namespace's generation stays
// the same. These tests read what the memo answers against the real server: a renewed generation
// makes the old keys unreachable at once, and the remembered keys are exactly the ones computed
// from scratch (plain, hashed, over 250 bytes).

const servers = await memcachedServers()

function stores(t: TestContext, count: number, options: object = {}) {
  const prefix = testKeyPrefix('memcached-memo')
  const list = Array.from({ length: count }, () => new MemcachedStore({ servers, prefix, ...options }))
  t.after(() => Promise.all(list.map((s) => s.close())))
  return { prefix, list }
}

function rawClient(t: TestContext): memjs.Client {
  const client = memjs.Client.create(servers, { retries: 1, logger: { log() {} } })
  t.after(() => client.close())
  return client
}

const hash = (text: string) => createHash('sha256').update(text, 'utf16le').digest('base64url')

// A plain key, keys memcached cannot take as they are (space, non-ASCII, control character),
// a '#' inside a key (kept: only a leading one is hashed, and the generation comes first), and a
// key that only fits once hashed.
const KEYS = [
  'cache:k:product:1',
  'cache:k:with space',
  'cache:k:café',
  'cache:k:tab\there',
  'cache:k:#hash-like',
  `cache:k:${'x'.repeat(300)}`,
]

test('clear() makes every remembered key unreachable at once, plain, hashed and over 250 bytes', async (t) => {
  const {
    list: [store],
  } = stores(t, 1)
  for (const [i, key] of KEYS.entries()) await store!.set(key, storedEntry(`v${i}`), 60_000)
  // Read twice: the second read answers from the memo.
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(
      (await store!.getMany(KEYS)).map((e) => e?.value),
      KEYS.map((_, i) => `v${i}`),
    )
  }
  await store!.clear('cache:')
  assert.deepEqual(
    (await store!.getMany(KEYS)).map((e) => e?.value),
    KEYS.map(() => undefined),
    'a key remembered under the old generation was read after clear()',
  )
  // The namespace works under the new generation, memo included.
  for (const [i, key] of KEYS.entries()) await store!.set(key, storedEntry(`w${i}`), 60_000)
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(
      (await store!.getMany(KEYS)).map((e) => e?.value),
      KEYS.map((_, i) => `w${i}`),
    )
  }
  // A clear between two reads of the same key, with no write in between.
  await store!.clear('cache:')
  assert.equal(await store!.get(KEYS[0]!), undefined)
  assert.equal(await store!.delete(KEYS[5]!), false, 'a delete reached a key of the old generation')
})

test('remembered keys are the memcached keys computed from scratch: prefix, generation, hashing', async (t) => {
  const { prefix, list } = stores(t, 1)
  const store = list[0]!
  const raw = rawClient(t)
  for (const [i, key] of KEYS.entries()) await store.set(key, storedEntry(`v${i}`), 60_000)
  // Memoized now; a second write goes through the memo.
  for (const [i, key] of KEYS.entries()) await store.set(key, storedEntry(`m${i}`), 60_000)
  const { value: record } = await raw.get(`${prefix}gen:cache`)
  assert.ok(record, 'no generation record')
  const gen = record.toString('latin1')
  for (const [i, key] of KEYS.entries()) {
    const rest = `${gen}:${key}`
    const plain = i === 0 || i === 4
    const mk = plain ? prefix + rest : `${prefix}#${hash(rest)}`
    assert.ok(Buffer.byteLength(mk) <= 250, mk)
    const { value } = await raw.get(mk)
    assert.ok(value, `nothing under ${JSON.stringify(mk)} for ${JSON.stringify(key.slice(0, 40))}`)
    assert.ok(
      value.includes(Buffer.from(`m${i}`)),
      `the memo wrote ${JSON.stringify(key.slice(0, 40))} elsewhere`,
    )
  }
  // A key without a namespace has no generation.
  await store.set('plain-key', storedEntry('p'), 60_000)
  await store.set('plain-key', storedEntry('p2'), 60_000)
  assert.ok((await raw.get(`${prefix}plain-key`)).value?.includes(Buffer.from('p2')))
})

test('an instance whose keys are remembered sees another instance clear() within generationRefresh', async (t) => {
  const refreshMs = 200
  const {
    list: [a, b],
  } = stores(t, 2, { generationRefresh: refreshMs })
  for (const [i, key] of KEYS.entries()) await a!.set(key, storedEntry(`v${i}`), 60_000)
  // b remembers every key under the current generation.
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(
      (await b!.getMany(KEYS)).map((e) => e?.value),
      KEYS.map((_, i) => `v${i}`),
    )
  }
  await a!.clear('cache:')
  const cleared = performance.now()
  let seenAfter = Number.POSITIVE_INFINITY
  while (performance.now() - cleared < 2000) {
    const values = (await b!.getMany(KEYS)).map((e) => e?.value)
    if (values.every((v) => v === undefined)) {
      seenAfter = performance.now() - cleared
      break
    }
    await sleep(10)
  }
  assert.ok(seenAfter <= refreshMs + 150, `seen after ${seenAfter} ms with a ${refreshMs} ms refresh`)
  await b!.set(KEYS[5]!, storedEntry('after'), 60_000)
  assert.equal((await a!.get(KEYS[5]!))?.value, 'after')
})

test(`past ${KEY_MEMO_SIZE} distinct keys the oldest are forgotten and recomputed, still right`, async (t) => {
  const {
    list: [store],
  } = stores(t, 1)
  const count = KEY_MEMO_SIZE + 500
  // Long keys, hashed: a wrong key from the memo would read nothing or another key's value.
  const keys = Array.from({ length: count }, (_, i) => `cache:k:${i}:${'y'.repeat(260)}`)
  const batch = async (fn: (key: string, i: number) => Promise<unknown>) => {
    for (let i = 0; i < count; i += 500) await Promise.all(keys.slice(i, i + 500).map((k, j) => fn(k, i + j)))
  }
  await batch((key, i) => store!.set(key, storedEntry(`v${i}`), 60_000))
  // The first keys were dropped from the memo by the last ones; all read back right, twice.
  for (let round = 0; round < 2; round++) {
    const wrong: number[] = []
    await batch(async (key, i) => {
      if ((await store!.get(key))?.value !== `v${i}`) wrong.push(i)
    })
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} keys read wrong in round ${round}`)
  }
  await store!.clear('cache:')
  assert.equal(await store!.get(keys[0]!), undefined)
  assert.equal(await store!.get(keys[count - 1]!), undefined)
})

test('getBytes() answers the stored encodeEntry() bytes under the same keys as get(), and undefined after clear()', async (t) => {
  const {
    list: [store],
  } = stores(t, 1)
  const stored = storedEntry('bytes', { tags: ['t1'], tagVersions: ['1'] })
  for (const key of KEYS) await store!.set(key, stored, 60_000)
  for (const key of KEYS) {
    const bytes = await store!.getBytes(key)
    assert.ok(bytes, JSON.stringify(key.slice(0, 40)))
    assert.deepEqual(Buffer.from(bytes), encodeEntry(stored))
    assert.deepEqual(decodeEntry(bytes), await store!.get(key))
  }
  assert.equal(await store!.getBytes('cache:k:absent'), undefined)
  await store!.clear('cache:')
  for (const key of KEYS) assert.equal(await store!.getBytes(key), undefined)
})
