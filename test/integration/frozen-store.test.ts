// Issue 14 against a real Redis and a real memcached frozen with SIGSTOP (their sockets stay open,
// nothing answers):
// - one deadline per operation: a tagged getOrSet (new tags, whose version records must be
//   created) or an untagged one costs at most `storeTimeout`, call after call;
// - invalidations made during the outage are not lost: they resolve `deferred`, this instance
//   stops serving what they invalidated at once, and they reach the store (seen by another
//   instance) within 2 s of SIGCONT.
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Cache, type CacheStore, createCache, type FastifyPerfCacheOptions } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisStore } from '@fastify-perf/cache-redis'
import { type ServiceHandle, startMemcached, startRedis, timeOnCpu } from '@fastify-perf/test-helpers'

interface Server {
  readonly name: string
  start(): Promise<ServiceHandle>
  /**
   * A store on `server`; `other` for the second instance. On memcached that instance re-reads the
   * namespace's generation (what `clear` renews) every 250 ms rather than every second: a clear
   * reaches another instance `generationRefresh` after it reached memcached, and what these tests
   * bound is the time the replay takes to reach the store.
   */
  open(server: ServiceHandle, other: boolean): Promise<CacheStore>
}

const SERVERS: readonly Server[] = [
  {
    name: 'Redis',
    start: () => startRedis(),
    async open(server) {
      const store = new RedisStore({ url: server.url })
      await store.ready()
      return store
    },
  },
  {
    name: 'memcached',
    start: () => startMemcached(),
    async open(server, other) {
      return new MemcachedStore({ servers: server.url, ...(other ? { generationRefresh: '250ms' } : {}) })
    },
  },
]

for (const kind of SERVERS) {
  describe(`frozen ${kind.name}`, () => {
    const STORE_TIMEOUT_MS = 50
    const BOUND_MS = STORE_TIMEOUT_MS + 50

    /** A cache on a private server; the server is thawed (if frozen) and stopped after the test. */
    async function cacheOnServer(
      t: TestContext,
      options: FastifyPerfCacheOptions = {},
    ): Promise<{ cache: Cache; server: ServiceHandle }> {
      const server = await kind.start()
      const store = await kind.open(server, false)
      const cache = createCache({ store, storeTimeout: STORE_TIMEOUT_MS, ...options })
      t.after(async () => {
        server.thaw()
        await cache.close(0)
        await store.close()
        await server.stop()
      })
      return { cache, server }
    }

    /** `call`'s time less the time the process was kept off the CPU meanwhile (test-helpers). */
    const timed = (t: TestContext, call: () => Promise<unknown>) => timeOnCpu(call, (stop) => t.after(stop))

    test(`frozen ${kind.name}: each tagged getOrSet (two new tags) and each untagged one costs at most storeTimeout + 50 ms`, async (t) => {
      // A threshold the measurement never reaches: every call meets the frozen server, not the breaker.
      const { cache, server } = await cacheOnServer(t, { breaker: { threshold: 1000 } })
      await cache.getOrSet('warm', () => 'up', { tags: ['warm'] })
      server.freeze()
      for (let i = 0; i < 5; i++) {
        const tagged = await timed(t, async () => {
          assert.equal(await cache.getOrSet(`tagged:${i}`, () => i, { tags: [`a:${i}`, `b:${i}`] }), i)
        })
        assert.ok(tagged <= BOUND_MS, `tagged call ${i} took ${tagged.toFixed(1)} ms (bound ${BOUND_MS} ms)`)
        const untagged = await timed(t, async () => {
          assert.equal(await cache.getOrSet(`plain:${i}`, () => i), i)
        })
        assert.ok(
          untagged <= BOUND_MS,
          `untagged call ${i} took ${untagged.toFixed(1)} ms (bound ${BOUND_MS} ms)`,
        )
      }
    })

    /** Freezes the server and fails reads until the breaker opens. */
    async function freezeUntilBreakerOpens(cache: Cache, server: ServiceHandle): Promise<void> {
      server.freeze()
      for (let i = 0; i < 20 && cache.stats().store.breaker !== 'open'; i++) await cache.get(`probe:${i}`)
      assert.equal(cache.stats().store.breaker, 'open')
    }

    /** Another instance on the same server: no L1, no memory of the outage. */
    async function otherInstance(
      t: TestContext,
      server: ServiceHandle,
      options: FastifyPerfCacheOptions = {},
    ) {
      const store = await kind.open(server, true)
      const cache = createCache({ store, ...options })
      t.after(async () => {
        await cache.close(0)
        await store.close()
      })
      return cache
    }

    /**
     * Calls `read` every 20 ms from the moment the server was thawed until 500 ms past the bound, and
     * answers when it last answered `old` (-1: never); fails if that was more than 2 s after SIGCONT.
     * A read that misses for another reason (its own store call timing out while the server catches
     * up) does not end the watch early.
     */
    async function lastOld(read: () => Promise<unknown>, old: unknown, thawedAt: number, what: string) {
      let last = -1
      while (performance.now() - thawedAt < RECOVERY_BOUND_MS + 500) {
        const value = await read()
        if (value === old) last = performance.now() - thawedAt
        await sleep(20)
      }
      assert.ok(
        last <= RECOVERY_BOUND_MS,
        `${what} answered the old value ${last.toFixed(0)} ms after SIGCONT`,
      )
      return last
    }

    const RECOVERY_BOUND_MS = 2000

    test(`frozen ${kind.name}: invalidateTags resolves deferred, is honoured at once, and reaches the store within 2 s of SIGCONT`, async (t) => {
      const { cache, server } = await cacheOnServer(t)
      const other = await otherInstance(t, server)
      let n = 0
      const product = (c: Cache) =>
        c.getOrSet('product:1', () => `v${++n}`, { tags: ['product:1'], ttl: '10m' })
      assert.equal(await product(cache), 'v1')
      // The write after the factory is not awaited by getOrSet.
      await sleep(100)
      assert.equal(await product(other), 'v1')
      await freezeUntilBreakerOpens(cache, server)

      assert.deepEqual(await cache.invalidateTags(['product:1']), { status: 'deferred' })
      assert.notEqual(await product(cache), 'v1', 'the invalidated value was served during the outage')
      server.thaw()
      const thawedAt = performance.now()
      const ms = await lastOld(() => product(other), 'v1', thawedAt, 'the other instance')
      t.diagnostic(`the other instance last served v1 ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
      assert.notEqual(await product(cache), 'v1')
      const debt = cache.stats().invalidationDebt
      assert.equal(debt.pending, 0, JSON.stringify(debt))
    })

    test(`frozen ${kind.name}: delete and deleteMany resolve deferred and reach the store within 2 s of SIGCONT`, async (t) => {
      const { cache, server } = await cacheOnServer(t)
      const other = await otherInstance(t, server)
      await cache.set('a', 'old a')
      await cache.set('b', 'old b')
      await freezeUntilBreakerOpens(cache, server)
      assert.deepEqual(await cache.delete('a'), { status: 'deferred' })
      assert.deepEqual(await cache.deleteMany(['b']), { status: 'deferred' })
      server.thaw()
      const thawedAt = performance.now()
      assert.equal(await cache.get('a'), undefined)
      assert.equal(await cache.getOrSet('b', () => 'new b'), 'new b')
      const ms = await lastOld(() => other.get('a'), 'old a', thawedAt, "the other instance's get('a')")
      t.diagnostic(`the other instance last served 'old a' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
    })

    test(`frozen ${kind.name}: clear resolves deferred, every read misses meanwhile, and the store is cleared within 2 s of SIGCONT`, async (t) => {
      const { cache, server } = await cacheOnServer(t)
      const other = await otherInstance(t, server)
      await cache.set('x', 'old x')
      await freezeUntilBreakerOpens(cache, server)
      assert.deepEqual(await cache.clear(), { status: 'deferred' })
      server.thaw()
      const thawedAt = performance.now()
      assert.equal(await cache.get('x'), undefined)
      const ms = await lastOld(() => other.get('x'), 'old x', thawedAt, "the other instance's get('x')")
      t.diagnostic(`the other instance last served 'old x' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
    })

    test(`frozen ${kind.name}: past maxInvalidationDebt the debt becomes a clear of the namespace, replayed after SIGCONT`, async (t) => {
      const { cache, server } = await cacheOnServer(t, { maxInvalidationDebt: 3 })
      const other = await otherInstance(t, server)
      for (let i = 0; i < 6; i++) await cache.set(`k${i}`, `old ${i}`)
      await freezeUntilBreakerOpens(cache, server)
      for (let i = 0; i < 5; i++) assert.deepEqual(await cache.delete(`k${i}`), { status: 'deferred' })
      assert.equal(cache.stats().invalidationDebt.overflowed, 1)
      server.thaw()
      const thawedAt = performance.now()
      // k5 was never deleted: the namespace as a whole is in debt.
      assert.equal(await cache.get('k5'), undefined)
      const ms = await lastOld(() => other.get('k5'), 'old 5', thawedAt, "the other instance's get('k5')")
      t.diagnostic(`the other instance last served 'old 5' ${ms.toFixed(0)} ms after SIGCONT (-1: never)`)
      for (let i = 0; i < 5; i++) assert.equal(await other.get(`k${i}`), undefined)
      const by = performance.now() + RECOVERY_BOUND_MS
      while (cache.stats().invalidationDebt.pending > 0 && performance.now() < by) await sleep(20)
      assert.equal(cache.stats().invalidationDebt.pending, 0)
      assert.equal(await cache.getOrSet('k5', () => 'new 5'), 'new 5')
    })
  })
}
