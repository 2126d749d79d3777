import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { channelNames, type FastifyPerfCacheOptions, fastifyPerfCache, MemoryStore } from '../src/index.js'
import { ChaosStore } from '../src/testing/index.js'

// Records every warn line the plugin logs, through a real pino logger on a stream.
function captureLogs() {
  const lines: Array<{ level: number; msg: string }> = []
  const stream = { write: (line: string) => lines.push(JSON.parse(line)) }
  return { lines, logger: { level: 'info', stream } }
}

async function appWith(t: TestContext, store: ChaosStore, options: FastifyPerfCacheOptions = {}) {
  const logs = captureLogs()
  const app = Fastify({ logger: logs.logger })
  await app.register(fastifyPerfCache, { store, ...options })
  await app.ready()
  t.after(() => app.close())
  return { app, logs }
}

for (const mode of ['hang', 'reject', 'throw'] as const) {
  test(`a store that ${mode === 'hang' ? 'hangs forever' : `${mode}s on every call`}: getOrSet answers from the factory within the store timeout`, async (t) => {
    const store = new ChaosStore(new MemoryStore())
    store.mode = mode
    const { app } = await appWith(t, store, { storeTimeout: 100, breaker: false })
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      assert.equal(await app.cache.getOrSet(`k${i}`, () => 'from the factory'), 'from the factory')
      const elapsed = performance.now() - started
      // The read waits at most the timeout; the write after the factory is not awaited.
      assert.ok(elapsed < 100 + 60, `took ${elapsed.toFixed(0)} ms with a 100 ms store timeout`)
    }
    assert.equal(await app.cache.get('k0'), undefined)
    await app.cache.set('x', 1)
    await app.cache.delete('x')
    await app.cache.invalidateTags(['t'])
    await app.cache.clear()
    assert.ok(app.cache.stats().store.errors >= 10)
  })
}

test('the breaker opens after consecutive failures, skips the store, probes, and closes when the store heals', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  const events: string[] = []
  const onBreaker = (message: unknown) => events.push((message as { state: string }).state)
  subscribe(channelNames.breaker, onBreaker)
  t.after(() => unsubscribe(channelNames.breaker, onBreaker))
  const { app, logs } = await appWith(t, store, {
    storeTimeout: 30,
    breaker: { threshold: 3, duration: 200 },
  })

  store.mode = 'hang'
  for (let i = 0; i < 3; i++) await app.cache.get(`k${i}`)
  assert.equal(app.cache.stats().store.breaker, 'open')
  assert.equal(store.calls, 3)

  // Open: the store is not called at all, and the caller does not wait.
  const started = performance.now()
  for (let i = 0; i < 50; i++) assert.equal(await app.cache.getOrSet(`open${i}`, () => 'factory'), 'factory')
  assert.ok(performance.now() - started < 200, 'an open breaker must answer without waiting for the store')
  assert.equal(store.calls, 3, 'the store was called while the breaker was open')
  assert.ok(app.cache.stats().store.skipped >= 50)

  // Still broken at the half-open probe: one call goes through, the breaker opens again.
  await sleep(220)
  await Promise.all([app.cache.get('probe1'), app.cache.get('probe2'), app.cache.get('probe3')])
  assert.equal(store.calls, 4, 'half-open lets exactly one probe through')
  assert.equal(app.cache.stats().store.breaker, 'open')

  // Healed: the next probe succeeds and caching resumes without a restart.
  store.mode = 'pass'
  await sleep(220)
  assert.equal(await app.cache.getOrSet('healed', () => 'v1'), 'v1')
  assert.equal(app.cache.stats().store.breaker, 'closed')
  assert.equal(await app.cache.getOrSet('healed', () => 'v2'), 'v1', 'caching did not resume')
  assert.deepEqual(events, ['open', 'half-open', 'open', 'half-open', 'closed'])

  // One warn per burst, not one per failure.
  const failureLogs = logs.lines.filter((l) => l.level === 40 && l.msg.includes('treating it as a miss'))
  assert.equal(failureLogs.length, 1)
  assert.ok(logs.lines.some((l) => l.msg.includes('circuit breaker open')))
})

test('store errors are published on fastify-perf:cache:store-error', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  store.mode = 'reject'
  const seen: Array<{ operation: string; store: string }> = []
  const onError = (message: unknown) => seen.push(message as { operation: string; store: string })
  subscribe(channelNames.storeError, onError)
  t.after(() => unsubscribe(channelNames.storeError, onError))
  const { app } = await appWith(t, store, { breaker: false })
  await app.cache.get('k')
  assert.deepEqual(
    seen.map((s) => s.operation),
    ['get'],
  )
  assert.equal(seen[0]!.store, 'chaos(memory)')
})

test('a slow store: answers inside the timeout are used, later ones are misses', async (t) => {
  const store = new ChaosStore(new MemoryStore())
  const { app } = await appWith(t, store, { storeTimeout: 60, breaker: false })
  await app.cache.set('k', 'cached')
  store.mode = { delayMs: 10 }
  assert.equal(await app.cache.get('k'), 'cached')
  store.mode = { delayMs: 150 }
  assert.equal(await app.cache.getOrSet('k', () => 'factory'), 'factory')
})
