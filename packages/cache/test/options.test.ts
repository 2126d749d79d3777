import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { fastifyPerfCache, MemoryStore, resolveOptions } from '../src/index.js'

test('defaults', () => {
  const o = resolveOptions()
  assert.equal(o.namespace, 'cache')
  assert.equal(o.ttlMs, 60_000)
  assert.equal(o.staleWhileRevalidateMs, 0)
  assert.equal(o.staleIfErrorMs, 0)
  assert.equal(o.timeoutMs, undefined)
  assert.equal(o.hardTimeoutMs, undefined)
  assert.equal(o.graceBackoffMs, 2000)
  assert.equal(o.storeTimeoutMs, 50)
  assert.equal(o.breakerThreshold, 5)
  assert.equal(o.breakerDurationMs, 1000)
  assert.equal(o.maxSize, 64 * 1024 * 1024)
  assert.equal(o.tagTtlMs, 30 * 86_400_000)
  assert.equal(o.maxInvalidationDebt, 10_000)
  assert.equal(resolveOptions({ maxInvalidationDebt: 3 }).maxInvalidationDebt, 3)
  assert.ok(Object.isFrozen(o))
})

test('durations and sizes accept numbers and strings with units', () => {
  const o = resolveOptions({
    ttl: '5m',
    staleWhileRevalidate: '1.5s',
    staleIfError: 250,
    maxSize: '2MB',
    storeTimeout: '20ms',
    tagTtl: '2d',
    breaker: { duration: '3s', threshold: 2 },
  })
  assert.equal(o.ttlMs, 300_000)
  assert.equal(o.staleWhileRevalidateMs, 1500)
  assert.equal(o.staleIfErrorMs, 250)
  assert.equal(o.maxSize, 2 * 1024 * 1024)
  assert.equal(o.storeTimeoutMs, 20)
  assert.equal(o.tagTtlMs, 2 * 86_400_000)
  assert.equal(o.breakerDurationMs, 3000)
  assert.equal(o.breakerThreshold, 2)
  assert.equal(resolveOptions({ breaker: false }).breakerThreshold, 0)
})

test('the caller’s options object is never changed', () => {
  const options = Object.freeze({ ttl: '1m' as const })
  resolveOptions(options)
  assert.deepEqual(options, { ttl: '1m' })
})

const bad: Array<[string, unknown, string]> = [
  ['unknown option', { ttll: 5 }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['zero ttl', { ttl: 0 }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['negative ttl', { ttl: -1 }, 'FST_PERF_CACHE_INVALID_DURATION'],
  ['unit-less string ttl', { ttl: '10' }, 'FST_PERF_CACHE_INVALID_DURATION'],
  ['unknown unit', { ttl: '10 fortnights' }, 'FST_PERF_CACHE_INVALID_DURATION'],
  ['NaN', { staleWhileRevalidate: Number.NaN }, 'FST_PERF_CACHE_INVALID_DURATION'],
  ['size string', { maxSize: 'big' }, 'FST_PERF_CACHE_INVALID_SIZE'],
  ['tiny maxSize', { maxSize: 10 }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['maxEntrySize over maxSize', { maxSize: '1MB', maxEntrySize: '2MB' }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['namespace with a colon', { namespace: 'a:b' }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['empty namespace', { namespace: '' }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['breaker threshold', { breaker: { threshold: -1 } }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['breaker not an object', { breaker: 'yes' }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['serializer', { serializer: {} }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['zero maxInvalidationDebt', { maxInvalidationDebt: 0 }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['fractional maxInvalidationDebt', { maxInvalidationDebt: 2.5 }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['maxInvalidationDebt as a string', { maxInvalidationDebt: '100' }, 'FST_PERF_CACHE_INVALID_OPTION'],
  ['store not a store', { store: { name: 'x', get() {} } }, 'FST_PERF_CACHE_INVALID_STORE'],
  ['store is a string', { store: 'redis://localhost' }, 'FST_PERF_CACHE_INVALID_STORE'],
]

for (const [name, options, code] of bad) {
  test(`rejects ${name} with ${code} (a TypeError)`, () => {
    assert.throws(
      () => resolveOptions(options as never),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, code)
        assert.ok(err instanceof TypeError)
        return true
      },
    )
  })
}

test('bad options fail at register time, before the app serves anything', async () => {
  const app = Fastify()
  app.register(fastifyPerfCache, { ttl: 'forever' } as never)
  await assert.rejects(
    async () => {
      await app.ready()
    },
    { code: 'FST_PERF_CACHE_INVALID_DURATION' },
  )
})

test('a custom store is accepted and not closed by the plugin', async () => {
  let closed = 0
  const store = new MemoryStore()
  const original = store.close.bind(store)
  store.close = () => {
    closed++
    original()
  }
  const app = Fastify()
  await app.register(fastifyPerfCache, { store })
  await app.close()
  assert.equal(closed, 0)
})
