import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import {
  buildApp,
  listen,
  load,
  type ServiceHandle,
  stallMeter,
  startMemcached,
} from '@fastify-perf/test-helpers'

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

/** The app, with every request's span as the server saw it (`performance.now()` times). */
async function appOn(t: TestContext, server: ServiceHandle) {
  const store = new MemcachedStore({ servers: server.url, prefix: 'outage:' })
  t.after(() => store.close())
  const app = buildApp(t)
  await app.register(fastifyPerfCache, { store, storeTimeout: STORE_TIMEOUT_MS })
  const spans: Array<{ start: number; ms: number }> = []
  const started = new WeakMap<object, number>()
  app.addHook('onRequest', async function startClock(request) {
    started.set(request, performance.now())
  })
  app.addHook('onResponse', async function stopClock(request) {
    const start = started.get(request) as number
    spans.push({ start, ms: performance.now() - start })
  })
  app.get('/item', async () =>
    app.cache.getOrSet(
      'item',
      async () => {
        await sleep(2)
        return { id: 1, name: 'widget', at: Date.now() }
      },
      { ttl: '1m' },
    ),
  )
  const base = await listen(app)
  return { app, store, base, spans }
}

for (const [name, outage] of Object.entries(outages)) {
  test(`memcached ${name}: no failed or slow request, caching resumes by itself`, async (t) => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    t.after(() => process.off('unhandledRejection', onUnhandled))

    const server = await startMemcached()
    t.after(() => server.stop())
    const { app, store, base, spans } = await appOn(t, server)

    const meter = stallMeter()
    t.after(() => meter.stop())
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
    meter.stop()

    // Each request's time in the app, less the time the process was kept off the CPU meanwhile
    // (see stallMeter in test/helpers/src/loop-stalls.ts). What remains is the time the app ran or
    // waited for memcached: what the bound is about. Every request of the run counts, not only
    // those during the outage.
    let worst = { ms: 0, stalled: 0, own: 0 }
    for (const { start, ms } of spans) {
      const stalled = meter.stalledMs(start, start + ms)
      if (ms - stalled > worst.own) worst = { ms, stalled, own: ms - stalled }
    }
    const stats = app.cache.stats()
    t.diagnostic(
      `requests ${result.total}, failed ${result.failed}, slowest in the app ${worst.own.toFixed(1)} ms once ` +
        `off-CPU stalls are taken out (${worst.ms.toFixed(1)} ms, ${worst.stalled.toFixed(1)} ms stalled), ` +
        `slowest at the client ${result.maxLatencyMs.toFixed(1)} ms; caching resumed ${resumedMs.toFixed(0)} ms ` +
        `after the server answered (${(backAfterMs / 1000).toFixed(1)} s into the load); store errors ` +
        `${stats.store.errors}, skipped ${stats.store.skipped}, store timeouts ${store.timeouts}, ` +
        `pending while down ${pendingWhileDown}, at the end ${store.pending}`,
    )
    assert.equal(result.failed, 0, result.errors.join('\n'))
    assert.equal(spans.length, result.total, 'every request went through the app')
    assert.ok(
      worst.own <= LATENCY_BOUND_MS,
      `a request took ${worst.ms.toFixed(1)} ms in the app, ${worst.stalled.toFixed(1)} ms of it off the CPU ` +
        `(bound ${LATENCY_BOUND_MS} ms)`,
    )
    assert.ok(
      resumedMs < RESUME_BOUND_MS,
      Number.isFinite(resumedMs)
        ? `caching resumed after ${resumedMs.toFixed(0)} ms`
        : `no store hit while the load ran after the server came back (${(backAfterMs / 1000).toFixed(1)} s into a ${LOAD_MS / 1000} s load)`,
    )
    assert.ok(stats.store.errors + stats.store.skipped > 0, 'the outage was not noticed at all')
    // A write the last requests started (the entry of a miss) may still be on its way when the load
    // ends; none may outlive the store's own deadline (`timeout`, 250 ms by default).
    const drainBy = performance.now() + 1000
    while (store.pending > 0 && performance.now() < drainBy) await sleep(10)
    assert.equal(store.pending, 0, 'operations still pending 1 s after the load')
    assert.deepEqual(unhandled, [])
  })
}
