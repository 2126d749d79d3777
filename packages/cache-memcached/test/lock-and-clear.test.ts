import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StoredEntry } from '@fastify-perf/cache'
import { FST_PERF_MEMCACHED_CLEAR_PREFIX, MemcachedStore } from '@fastify-perf/cache-memcached'
import { memcachedServers, startMemcached, testKeyPrefix } from '@fastify-perf/test-helpers'

// The cross-instance lock (memcached `add`) and clear() through per-namespace generations, with
// several store instances on one server standing in for several app instances.

const shared = await memcachedServers()

function entry(value: string): StoredEntry {
  return { value, createdAt: 0, freshUntil: 0, staleUntil: 0, graceUntil: 0, tags: [], tagVersions: [] }
}

/** `count` stores sharing one prefix, as `count` app instances would. */
function instances(t: TestContext, count: number, options: object = {}, servers = shared) {
  const prefix = testKeyPrefix('memcached-lock')
  const stores = Array.from({ length: count }, () => new MemcachedStore({ servers, prefix, ...options }))
  t.after(() => Promise.all(stores.map((s) => s.close())))
  return stores
}

test('of 50 concurrent lock() calls over 5 instances exactly one gets the lock; release frees it', async (t) => {
  const stores = instances(t, 5)
  const attempts = await Promise.all(
    Array.from({ length: 50 }, (_, i) => stores[i % 5]!.lock('cache:l:cold-key', 10_000)),
  )
  const holders = attempts.filter((lock) => lock !== undefined)
  assert.equal(holders.length, 1)
  assert.equal(await stores[1]!.lock('cache:l:cold-key', 10_000), undefined, 'still held')
  await holders[0]!.release()
  await holders[0]!.release()
  const next = await stores[2]!.lock('cache:l:cold-key', 10_000)
  assert.ok(next, 'the released lock could not be taken again')
  await next.release()
})

test('a lock expires after its ttl (whole seconds, rounded up), and a late release frees nothing', async (t) => {
  const [a, b] = instances(t, 2)
  const first = await a!.lock('cache:l:k', 900)
  assert.ok(first)
  assert.equal(await b!.lock('cache:l:k', 900), undefined)
  // 900 ms is sent as 1 s; memcached's clock ticks in whole seconds, so allow up to 2 s.
  let second: Awaited<ReturnType<MemcachedStore['lock']>>
  const deadline = Date.now() + 2500
  while (second === undefined && Date.now() < deadline) {
    await sleep(100)
    second = await b!.lock('cache:l:k', 10_000)
  }
  assert.ok(second, 'the lock did not expire')
  // The first holder's release comes late: its token no longer matches, the new lock stays.
  await first.release()
  assert.equal(await a!.lock('cache:l:k', 10_000), undefined, "a late release deleted another holder's lock")
  await second.release()
})

test('clear("<namespace>:") hides that namespace only, at once on this instance', async (t) => {
  const [store] = instances(t, 1)
  await store!.set('ns1:k:a', entry('A'), 60_000)
  await store!.set('ns1:t:h:tag', entry('T'), 60_000)
  await store!.set('ns2:k:a', entry('B'), 60_000)
  await store!.set('plain', entry('P'), 60_000)
  await store!.clear('ns1:')
  assert.deepEqual(
    (await store!.getMany(['ns1:k:a', 'ns1:t:h:tag', 'ns2:k:a', 'plain'])).map((e) => e?.value),
    [undefined, undefined, 'B', 'P'],
  )
  // The namespace works as before after a clear.
  await store!.set('ns1:k:a', entry('A2'), 60_000)
  assert.equal((await store!.get('ns1:k:a'))?.value, 'A2')
})

test('another instance sees a clear() within generationRefresh', async (t) => {
  const refreshMs = 200
  const [a, b] = instances(t, 2, { generationRefresh: refreshMs })
  await a!.set('cache:k:x', entry('before'), 60_000)
  assert.equal((await b!.get('cache:k:x'))?.value, 'before')
  await a!.clear('cache:')
  const cleared = performance.now()
  let seenAfter = Number.POSITIVE_INFINITY
  while (performance.now() - cleared < 2000) {
    if ((await b!.get('cache:k:x')) === undefined) {
      seenAfter = performance.now() - cleared
      break
    }
    await sleep(10)
  }
  t.diagnostic(`the other instance saw the clear after ${seenAfter.toFixed(0)} ms`)
  assert.ok(seenAfter <= refreshMs + 100, `seen after ${seenAfter} ms with a ${refreshMs} ms refresh`)
  // Both now write and read under the same new generation.
  await b!.set('cache:k:x', entry('after'), 60_000)
  assert.equal((await a!.get('cache:k:x'))?.value, 'after')
})

test('instances agree on a generation when they first meet a namespace at the same time', async (t) => {
  const stores = instances(t, 6)
  await Promise.all(stores.map((s, i) => s.set(`fresh:k:${i}`, entry(`v${i}`), 60_000)))
  for (const s of stores) {
    assert.deepEqual(
      (await s.getMany(stores.map((_, i) => `fresh:k:${i}`))).map((e) => e?.value),
      stores.map((_, i) => `v${i}`),
    )
  }
})

test('after a memcached restart (generation records gone) the instances converge on a new generation', async (t) => {
  const server = await startMemcached()
  t.after(() => server.stop())
  const [a, b] = instances(t, 2, { generationRefresh: 100 }, server.url)
  await a!.set('cache:k:x', entry('old'), 60_000)
  assert.equal((await b!.get('cache:k:x'))?.value, 'old')
  await server.restart()
  await sleep(300)
  await a!.set('cache:k:x', entry('new'), 60_000)
  assert.equal((await b!.get('cache:k:x'))?.value, 'new')
})

test('clear() with anything but one "<namespace>:" rejects with FST_PERF_MEMCACHED_CLEAR_PREFIX', async (t) => {
  const [store] = instances(t, 1)
  for (const prefix of ['', ':', 'cache', 'a:b:', 'cache:k:', 'conformance-x']) {
    await assert.rejects(store!.clear(prefix), (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_MEMCACHED_CLEAR_PREFIX)
      assert.ok(error instanceof TypeError)
      assert.equal(error.code, 'FST_PERF_MEMCACHED_CLEAR_PREFIX')
      return true
    })
  }
})
