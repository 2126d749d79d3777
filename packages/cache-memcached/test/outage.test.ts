import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { buildApp, listen, load, type ServiceHandle, startMemcached } from '@fastify-perf/test-helpers'

// Issue 4's outage acceptance for the Memcached store: a Fastify app doing `getOrSet` under
// steady load from a real HTTP client while its memcached is (a) killed, (b) frozen with SIGSTOP,
// (c) restarted. Every case: zero failed requests, none slower than the store timeout (50 ms)
// plus 50 ms, no unhandled rejection, and caching back within 2 s of the server answering.
//
// (b) is memjs#119: memjs times operations out with socket idle timers, which steady traffic
// keeps resetting, so against a frozen server nothing would ever time out. The engine's own
// deadline answers every request; the store's deadlines reset the hung connection so memjs's
// callbacks do not pile up in memory.

const STORE_TIMEOUT_MS = 50
const LATENCY_BOUND_MS = STORE_TIMEOUT_MS + 50
const RESUME_BOUND_MS = 2000
// 1 s of warm load, the outage (a graceful stop alone takes about 1 s), 1.5 s down, then the
// restart and the 2 s resume window: the load must still be running at the end of that window.
const LOAD_MS = 7000
const DOWN_MS = 1500

interface Outage {
  /** Takes the server away; resolves once it is away. */
  down(server: ServiceHandle): Promise<void> | void
  /** Brings it back; resolves once it answers again. */
  up(server: ServiceHandle): Promise<void> | void
}

const outages: Record<string, Outage> = {
  'killed (SIGKILL, connections refused), then started again': {
    down: (server) => server.kill(),
    up: (server) => server.restart(),
  },
  'frozen (SIGSTOP: connections open, nothing answers), then thawed': {
    down: (server) => server.freeze(),
    up: (server) => server.thaw(),
  },
  'restarted (graceful stop, then start; an empty cache comes back)': {
    down: (server) => server.stop(),
    up: (server) => server.restart(),
  },
}

async function appOn(t: TestContext, server: ServiceHandle) {
  const store = new MemcachedStore({ servers: server.url, prefix: 'outage:' })
  t.after(() => store.close())
  const app = buildApp(t)
  await app.register(fastifyPerfCache, { store, storeTimeout: STORE_TIMEOUT_MS })
  let factoryCalls = 0
  app.get('/item', async () =>
    app.cache.getOrSet(
      'item',
      async () => {
        factoryCalls++
        await sleep(2)
        return { id: 1, name: 'widget', at: Date.now() }
      },
      { ttl: '1m' },
    ),
  )
  const base = await listen(app)
  return { app, store, base, factoryCalls: () => factoryCalls }
}

for (const [name, outage] of Object.entries(outages)) {
  test(`memcached ${name}: no failed or slow request, caching resumes by itself`, async (t) => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    t.after(() => process.off('unhandledRejection', onUnhandled))

    const server = await startMemcached()
    t.after(() => server.stop())
    const { app, store, base } = await appOn(t, server)

    // Event-loop delay of this process (app and load generator share it): printed with the
    // figures, so a slow request can be told apart from a machine starved of CPU.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const started = performance.now()
    let loadDone = false
    const running = load({ url: `${base}/item`, connections: 10, durationMs: LOAD_MS }).finally(() => {
      loadDone = true
    })
    await sleep(1000)
    const hitsBefore = app.cache.stats().hits
    assert.ok(hitsBefore > 0, 'the store served no hits before the outage')

    await outage.down(server)
    await sleep(DOWN_MS)
    const pendingWhileDown = store.pending
    await outage.up(server)
    const back = performance.now()
    const hitsAtBack = app.cache.stats().hits
    // Caching is back when the engine counts store hits again.
    let resumedMs = Number.POSITIVE_INFINITY
    while (!loadDone && performance.now() - back < RESUME_BOUND_MS + 500) {
      if (app.cache.stats().hits > hitsAtBack) {
        resumedMs = performance.now() - back
        break
      }
      await sleep(10)
    }
    const backAfterMs = back - started
    const result = await running
    loopDelay.disable()

    const stats = app.cache.stats()
    t.diagnostic(
      `requests ${result.total}, failed ${result.failed}, max latency ${result.maxLatencyMs.toFixed(1)} ms, ` +
        `caching resumed ${resumedMs.toFixed(0)} ms after the server answered, store errors ${stats.store.errors}, ` +
        `skipped ${stats.store.skipped}, store timeouts ${store.timeouts}, pending while down ${pendingWhileDown}, ` +
        `pending at end ${store.pending}, server back at ${(backAfterMs / 1000).toFixed(1)} s of ${LOAD_MS / 1000} s, ` +
        `event-loop delay max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    )
    assert.equal(result.failed, 0, result.errors.join('\n'))
    assert.ok(
      result.maxLatencyMs < LATENCY_BOUND_MS,
      `slowest request ${result.maxLatencyMs.toFixed(1)} ms, bound ${LATENCY_BOUND_MS} ms`,
    )
    assert.ok(
      resumedMs < RESUME_BOUND_MS,
      Number.isFinite(resumedMs)
        ? `caching resumed after ${resumedMs.toFixed(0)} ms`
        : `no store hit while the load ran after the server came back (${(backAfterMs / 1000).toFixed(1)} s into a ${LOAD_MS / 1000} s load)`,
    )
    assert.ok(stats.store.errors + stats.store.skipped > 0, 'the outage was not noticed at all')
    assert.deepEqual(unhandled, [])
  })
}
