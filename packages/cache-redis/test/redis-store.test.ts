import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createCache, type StoredEntry } from '@fastify-perf/cache'
import { storeSuite } from '@fastify-perf/cache/testing'
import { RedisStore } from '@fastify-perf/cache-redis'
import { redisCommand, redisUrl, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import { Redis } from 'ioredis'

function entry(value: string | Uint8Array, ttlMs = 60_000): StoredEntry {
  const now = Date.now()
  return {
    value,
    createdAt: now,
    freshUntil: now + ttlMs,
    staleUntil: now + ttlMs,
    graceUntil: now + ttlMs,
    tags: [],
    tagVersions: [],
  }
}

/** A store on the shared server (REDIS_URL) or this file's private one, under a prefix of its own. */
async function sharedStore(prefix = testKeyPrefix('redis-store')): Promise<RedisStore> {
  const store = new RedisStore({ url: await redisUrl(), prefix })
  await store.ready()
  return store
}

// The conformance suite of @fastify-perf/cache, on a single Redis node.
for (const c of storeSuite({ createStore: () => sharedStore(), lock: true, add: true }))
  test(`conformance (single node): ${c.name}`, c.run)

test('entries are stored under the prefix with SET PX, as encoded bytes', async (t) => {
  const prefix = testKeyPrefix('layout')
  const store = await sharedStore(prefix)
  t.after(() => store.close())
  const url = await redisUrl()
  await store.set('k', entry('hello'), 1500.2)
  const pttl = Number(await redisCommand(url, 'PTTL', `${prefix}k`))
  assert.ok(pttl > 1000 && pttl <= 1501, `PTTL ${pttl}: the ttl is rounded up to whole ms`)
  assert.equal(await redisCommand(url, 'EXISTS', 'k'), 0, 'nothing written without the prefix')
  // A fraction of a millisecond still stores (PX 0 would be a server error).
  await store.set('tiny', entry('x'), 0.3)
  await store.clear('')
})

test('a foreign value under our key reads as a miss, not an error', async (t) => {
  const prefix = testKeyPrefix('foreign')
  const store = await sharedStore(prefix)
  t.after(() => store.close())
  await redisCommand(await redisUrl(), 'SET', `${prefix}k`, 'not an entry', 'PX', 60_000)
  assert.equal(await store.get('k'), undefined)
  assert.deepEqual(await store.getMany(['k']), [undefined])
  await store.clear('')
})

test('clear() deletes its own prefix only: other apps, other prefixes and lookalike keys stay', async (t) => {
  const prefix = testKeyPrefix('clear')
  const store = await sharedStore(prefix)
  t.after(() => store.close())
  const url = await redisUrl()
  // Keys the store must never touch: a foreign app's, a sibling namespace's, and keys that only
  // match if the prefix were used as an unescaped glob pattern.
  const foreign = [
    `other-app:${prefix}ns:a`,
    `${prefix}ns2:a`,
    `${prefix}nsX:a`,
    `${prefix.toUpperCase()}ns:a`,
  ]
  for (const key of foreign) await redisCommand(url, 'SET', key, 'foreign', 'PX', 60_000)
  // More keys than one SCAN step (COUNT 1000) walks.
  await Promise.all(Array.from({ length: 2500 }, (_, i) => store.set(`ns:${i}`, entry(`v${i}`), 60_000)))
  await store.set('n?:glob', entry('glob'), 60_000)

  await store.clear('ns:')
  assert.equal((await store.getMany(['ns:0', 'ns:1234', 'ns:2499'])).filter(Boolean).length, 0)
  assert.equal((await store.get('n?:glob'))?.value, 'glob', 'a key outside the cleared prefix stays')
  for (const key of foreign)
    assert.equal(await redisCommand(url, 'GET', key), 'foreign', `${key} was deleted`)

  // A prefix holding glob characters matches itself only.
  await store.set('a*b:1', entry('star'), 60_000)
  await store.set('aXb:1', entry('plain'), 60_000)
  await store.clear('a*b:')
  assert.equal(await store.get('a*b:1'), undefined)
  assert.equal((await store.get('aXb:1'))?.value, 'plain', 'the * in the prefix was used as a wildcard')

  await store.clear('')
  for (const key of foreign) await redisCommand(url, 'DEL', key)
})

test('an injected client is used as is and never closed; a created one is closed', async (t) => {
  const url = await redisUrl()
  const client = new Redis(url)
  t.after(() => client.disconnect())
  const injected = new RedisStore({ client, prefix: testKeyPrefix('injected') })
  assert.equal(injected.client, client)
  await injected.set('k', entry('v'), 60_000)
  assert.equal((await injected.get('k'))?.value, 'v')
  await injected.close()
  await injected.close()
  assert.equal(client.status, 'ready', 'close() closed a client it did not create')
  assert.equal(await client.ping(), 'PONG')

  const created = new RedisStore({ url, prefix: testKeyPrefix('created') })
  await created.ready()
  assert.equal(created.client.status, 'ready')
  await created.close()
  await created.close()
  assert.equal(created.client.status, 'end', 'close() left its own client open')
  await assert.rejects(created.get('k'), 'a closed store must fail (the engine answers a miss)')
})

test('a client the store creates gets the fail-fast settings, with the caller options on top', async (t) => {
  const store = new RedisStore({
    url: await redisUrl(),
    redis: { connectionName: 'fp-test', commandTimeout: 750 },
  })
  t.after(() => store.close())
  const options = (store.client as Redis).options
  // RESP2 on ioredis 6 as on 5: no HELLO 3 to fail on, no maintenance-relaxed command timeout.
  assert.equal(options.protocol, 2)
  await store.ready()
  assert.match(String(await (store.client as Redis).client('INFO')), / resp=2\b/, 'the server sees RESP2')
  assert.equal(options.enableOfflineQueue, false)
  assert.equal(options.maxRetriesPerRequest, 0)
  assert.equal(options.autoResendUnfulfilledCommands, false)
  assert.equal(options.enableAutoPipelining, true)
  assert.equal(options.connectTimeout, 2000)
  assert.equal(options.commandTimeout, 750, 'the caller option wins')
  assert.equal(options.connectionName, 'fp-test')
  const retry = options.retryStrategy as (times: number) => number
  assert.deepEqual([1, 2, 5, 10, 1000].map(retry), [50, 100, 250, 500, 500], 'capped, never giving up')
})

test('operations before the connection is ready fail at once instead of queueing', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await redis.kill()
  const store = new RedisStore({ url: redis.url })
  t.after(() => store.close())
  const started = performance.now()
  await assert.rejects(store.get('k'))
  await assert.rejects(store.set('k', entry('v'), 1000))
  assert.ok(performance.now() - started < 50, 'a dead Redis must cost nothing, not a timeout')
  await assert.rejects(store.ready(300), { code: 'FST_PERF_REDIS_NOT_READY' })
  // Redis comes up: the client reconnects by itself and the store works again.
  await redis.restart()
  await store.ready(3000)
  await store.set('k', entry('back'), 60_000)
  assert.equal((await store.get('k'))?.value, 'back')
})

test('lock: one of N concurrent lock() calls gets it; release frees it', async (t) => {
  const prefix = testKeyPrefix('lock')
  const stores = await Promise.all(Array.from({ length: 4 }, () => sharedStore(prefix)))
  t.after(() => Promise.all(stores.map((s) => s.close())))
  const attempts = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (stores[i % stores.length] as RedisStore).lock('lock:k', 10_000)),
  )
  const holders = attempts.filter((lock) => lock !== undefined)
  assert.equal(holders.length, 1, `${holders.length} callers got the lock`)
  const url = await redisUrl()
  const pttl = Number(await redisCommand(url, 'PTTL', `${prefix}lock:k`))
  assert.ok(pttl > 9000 && pttl <= 10_000, `the lock expires by itself (PTTL ${pttl})`)
  await holders[0]?.release()
  assert.equal(await redisCommand(url, 'EXISTS', `${prefix}lock:k`), 0)
  const again = await (stores[1] as RedisStore).lock('lock:k', 10_000)
  assert.ok(again, 'a released lock can be taken again')
  await again.release()
  // Releasing twice is harmless (EVALSHA path, the script is cached now).
  await again.release()
})

test('lock: a holder whose lock expired cannot release the next holder lock', async (t) => {
  const prefix = testKeyPrefix('lock-expired')
  const store = await sharedStore(prefix)
  t.after(() => store.close())
  const url = await redisUrl()
  const first = await store.lock('k', 50)
  assert.ok(first)
  await new Promise((resolve) => setTimeout(resolve, 120))
  const second = await store.lock('k', 10_000)
  assert.ok(second, 'an expired lock is free')
  await first.release()
  assert.equal(
    await redisCommand(url, 'EXISTS', `${prefix}k`),
    1,
    'the first holder deleted the second one lock',
  )
  assert.equal(await store.lock('k', 10_000), undefined, 'still held by the second holder')
  await second.release()
  assert.equal(await redisCommand(url, 'EXISTS', `${prefix}k`), 0)
})

test('lock release survives a server that forgot its scripts (NOSCRIPT falls back to EVAL)', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const store = new RedisStore({ url: redis.url })
  t.after(() => store.close())
  await store.ready()
  const warm = await store.lock('k', 10_000)
  await warm?.release()
  await redisCommand(redis.url, 'SCRIPT', 'FLUSH')
  const lock = await store.lock('k', 10_000)
  assert.ok(lock)
  await lock.release()
  assert.equal(await redisCommand(redis.url, 'EXISTS', 'fp:k'), 0)
})

test('out of memory (maxmemory, noeviction): set rejects, reads keep working, nothing crashes', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  // 1 MB above what the empty server uses (which is about 1 MB itself).
  const info = String(await redisCommand(redis.url, 'INFO', 'memory'))
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1])
  assert.ok(used > 0)
  await redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
  await redisCommand(redis.url, 'CONFIG', 'SET', 'maxmemory', used + 1024 * 1024)
  const store = new RedisStore({ url: redis.url })
  t.after(() => store.close())
  await store.ready()
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))

  const value = Buffer.alloc(50 * 1024, 7)
  let failure: Error | undefined
  let stored = 0
  for (; stored < 100 && failure === undefined; stored++) {
    try {
      await store.set(`big:${stored}`, entry(value), 60_000)
    } catch (error) {
      failure = error as Error
    }
  }
  assert.ok(failure, 'Redis took 5 MB over its maxmemory without complaint')
  assert.ok(stored > 5, `only ${stored} values stored before OOM`)
  assert.match(failure.message, /^OOM /)
  assert.ok((await store.get('big:0'))?.value instanceof Uint8Array, 'reads still work')
  assert.equal(await store.delete('big:0'), true, 'deletes still work')
  assert.equal(store.client.status, 'ready', 'the connection survived')
  assert.deepEqual(unhandled, [])
})

test('through the engine, a foreign value under an entry key is a miss: getOrSet runs the factory and stores over it', async (t) => {
  const prefix = testKeyPrefix('foreign-engine')
  const store = await sharedStore(prefix)
  const cache = createCache({ store, namespace: 'ns' })
  t.after(async () => {
    await cache.close()
    await store.close()
  })
  const url = await redisUrl()
  // The engine reads entries with getBytes and decodes them itself (see CacheStore.getBytes).
  await cache.set('warm', 'up')
  assert.equal(await cache.getOrSet('warm', () => 'factory'), 'up')
  await redisCommand(url, 'SET', `${prefix}ns:k:k`, 'not an entry', 'PX', 60_000)
  let runs = 0
  assert.equal(
    await cache.getOrSet('k', () => {
      runs++
      return 'fresh'
    }),
    'fresh',
  )
  assert.equal(runs, 1)
  assert.equal(await cache.getOrSet('k', () => 'again'), 'fresh')
  await store.clear('')
})
