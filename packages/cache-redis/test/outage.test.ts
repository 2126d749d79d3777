// Acceptance (issue 4): a Fastify app caching through RedisStore keeps serving, fast, while Redis
// is killed, frozen or restarted under a steady load from a real HTTP client, and caching resumes
// by itself once Redis answers again.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyPerfCache from '@fastify-perf/cache'
import { type RedisClient, RedisStore, safeRedisOptions } from '@fastify-perf/cache-redis'
import {
  buildApp,
  type LoadResult,
  listen,
  load,
  percentile,
  redisCommand,
  type ServiceHandle,
  stallMeter,
  startRedis,
} from '@fastify-perf/test-helpers'
import { Redis } from 'ioredis'
import { Redis as Redis5 } from 'ioredis5'

// The engine's default `storeTimeout`; the bound is that plus 50 ms.
const STORE_TIMEOUT_MS = 50
const LATENCY_BOUND_MS = STORE_TIMEOUT_MS + 50
// Caching must resume within this long after Redis answers again.
const RESUME_BOUND_MS = 2000
const KEYS = 20
// The steady load: 10 keep-alive connections, 4000 requests per second in all. Paced, like
// production traffic, rather than saturating: a saturated process on a shared 2-core machine
// spends its time queued for a CPU, and that is not what these tests measure.
const LOAD = { connections: 10, rate: 4000, durationMs: 5000 }

interface Outage {
  /** Takes Redis down (kill, freeze, stop). */
  down(redis: ServiceHandle): Promise<void> | void
  /** Brings it back; resolves when Redis answers again. */
  up(redis: ServiceHandle): Promise<void> | void
  /** Whether Redis kept its data (a thawed server does, a restarted one starts empty). */
  keepsData: boolean
}

/** A user's own client (issue 17), or none: the store creates its own (ioredis 6, RESP2). */
type UserClient = (url: string) => RedisClient

/** An app on a private Redis with a getOrSet route, warmed up so every key is cached. */
async function cachingApp(t: TestContext, userClient?: UserClient) {
  const redis = await startRedis()
  t.after(() => redis.stop())
  let store: RedisStore
  if (userClient) {
    const client = userClient(redis.url)
    // An app's client has its own 'error' listener (ioredis prints errors to stderr without one).
    client.on('error', () => {})
    t.after(() => client.disconnect())
    store = new RedisStore({ client })
  } else {
    store = new RedisStore({ url: redis.url })
  }
  t.after(() => store.close())
  await store.ready()
  const app = buildApp(t)
  await app.register(fastifyPerfCache, { store, ttl: '10m' })
  let n = 0
  let factoryCalls = 0
  app.get('/item', async () => {
    const key = `item:${n++ % KEYS}`
    return app.cache.getOrSet(key, async () => {
      factoryCalls++
      // A fast database query.
      await sleep(2)
      return { key, body: 'x'.repeat(200) }
    })
  })
  const url = `${await listen(app)}/item`
  const warm = await load({ url, connections: 4, requests: 200 })
  assert.equal(warm.failed, 0)
  assert.equal(Number(await redisCommand(redis.url, 'DBSIZE')), KEYS, 'warm-up cached every key in Redis')
  return { redis, store, app, url, factoryCalls: () => factoryCalls }
}

/** Collects unhandled rejections for the rest of the test. */
function collectUnhandled(t: TestContext): unknown[] {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  return seen
}

async function runOutage(t: TestContext, outage: Outage, userClient?: UserClient): Promise<void> {
  const { redis, app, url } = await cachingApp(t, userClient)
  const unhandled = collectUnhandled(t)
  const meter = stallMeter()
  t.after(() => meter.stop())
  const running = load({ url, ...LOAD })

  await sleep(1000)
  const hitsBefore = app.cache.stats().hits
  await outage.down(redis)
  await sleep(1500)
  await outage.up(redis)
  const answeringAt = performance.now()
  const hitsAtRecovery = app.cache.stats().hits

  // Resumed = the store is read and written again: hits grow, and (after a restart, which lost
  // every key) the keys are back in Redis, as seen from outside the app.
  let resumedMs = -1
  while (performance.now() - answeringAt < RESUME_BOUND_MS + 1000) {
    const hitsGrew = app.cache.stats().hits > hitsAtRecovery
    const stored = outage.keepsData || Number(await redisCommand(redis.url, 'DBSIZE')) > 0
    if (hitsGrew && stored) {
      resumedMs = performance.now() - answeringAt
      break
    }
    await sleep(10)
  }

  const result: LoadResult = await running
  meter.stop()
  const stats = app.cache.stats()
  // Each request's latency, less the time the event loop was kept from running meanwhile (other
  // processes had both cores; see stallMeter in test/helpers/src/loop-stalls.ts). What remains is
  // the time the app was running or waiting for Redis: that is what the bound is about.
  let worst = { latency: 0, stalled: 0, own: 0 }
  for (let i = 0; i < result.latencies.length; i++) {
    const latency = result.latencies[i] as number
    const started = result.startedAt[i] as number
    const stalled = meter.stalledMs(started, started + latency)
    if (latency - stalled > worst.own) worst = { latency, stalled, own: latency - stalled }
  }
  t.diagnostic(
    `${result.total} requests, ${result.failed} failed; latency max ${result.maxLatencyMs.toFixed(1)} ms, ` +
      `p99 ${percentile(result.latencies, 99).toFixed(1)} ms; slowest once loop stalls are taken out: ` +
      `${worst.own.toFixed(1)} ms (${worst.latency.toFixed(1)} ms, ${worst.stalled.toFixed(1)} ms stalled); ` +
      `caching resumed ${resumedMs.toFixed(0)} ms after Redis answered again; store errors ${stats.store.errors}, ` +
      `skipped by the breaker ${stats.store.skipped}`,
  )
  assert.equal(result.failed, 0, result.errors.join('\n'))
  assert.ok(hitsBefore > 0, 'hits before the outage')
  assert.ok(stats.misses > KEYS, 'misses beyond the warm-up: the outage was felt')
  assert.ok(
    worst.own <= LATENCY_BOUND_MS,
    `a request took ${worst.latency.toFixed(1)} ms, ${worst.stalled.toFixed(1)} ms of it with the event loop stalled ` +
      `(bound ${LATENCY_BOUND_MS} ms)`,
  )
  assert.ok(resumedMs >= 0, `caching did not resume within ${RESUME_BOUND_MS + 1000} ms`)
  assert.ok(resumedMs <= RESUME_BOUND_MS, `caching resumed after ${resumedMs.toFixed(0)} ms`)
  assert.ok(stats.hits > hitsAtRecovery, 'hits after recovery')
  assert.deepEqual(unhandled, [])
}

const OUTAGES: ReadonlyArray<{ name: string; outage: Outage }> = [
  {
    name: '(a): Redis SIGKILLed mid-run, then restarted',
    outage: { down: (redis) => redis.kill(), up: (redis) => redis.restart(), keepsData: false },
  },
  {
    name: '(b): Redis frozen with SIGSTOP (sockets open, no answers), then thawed',
    outage: { down: (redis) => redis.freeze(), up: (redis) => redis.thaw(), keepsData: true },
  },
  {
    name: '(c): Redis restarted (graceful stop, start on the same port)',
    outage: { down: () => {}, up: (redis) => redis.restart(), keepsData: false },
  },
]

// The store's own client, then an app's own client of each ioredis major made with the settings
// the README recommends: ioredis 6 kept on RESP3 (its default, which an app may well keep), and
// ioredis 5 (RESP2; it ignores `protocol`).
const CLIENTS: ReadonlyArray<{ name: string; userClient?: UserClient }> = [
  { name: '' },
  {
    name: " (a user's ioredis 6 client, RESP3)",
    userClient: (url) => new Redis(url, { ...safeRedisOptions(), protocol: 3 }),
  },
  { name: " (a user's ioredis 5 client)", userClient: (url) => new Redis5(url, safeRedisOptions()) },
]

for (const { name: clientName, userClient } of CLIENTS) {
  for (const { name, outage } of OUTAGES) {
    test(`outage ${name}${clientName}`, (t) => runOutage(t, outage, userClient))
  }
}
