import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { test } from 'node:test'
import fastifyPerfCache, { MemoryStore } from '@fastify-perf/cache'
import { ChaosStore } from '@fastify-perf/cache/testing'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming from '@fastify-perf/timing'
import { Registry } from 'prom-client'
import { parsePrometheusText, samplesOf, seriesValue } from './support/prometheus-text.js'

// The series docs/timing.md documents, always present after one request (counters with labels
// appear with their first event, so the test publishes one of each).
const DOCUMENTED_FAMILIES = {
  http_request_duration_seconds: 'histogram',
  http_requests_in_flight: 'gauge',
  fastify_perf_cache_lookups_total: 'counter',
  fastify_perf_cache_store_errors_total: 'counter',
  fastify_perf_cache_factory_errors_total: 'counter',
  fastify_perf_cache_invalidations_total: 'counter',
  fastify_perf_cache_breaker_state: 'gauge',
  fastify_perf_compress_responses_total: 'counter',
  fastify_perf_compress_bytes_in_total: 'counter',
  fastify_perf_compress_bytes_out_total: 'counter',
  fastify_perf_compress_duration_seconds_total: 'counter',
  fastify_perf_eventloop_utilization: 'gauge',
  // prom-client's default metrics: the event-loop delay and the process.
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
} as const

async function scrape(base: string, path = '/metrics') {
  const response = await request(`${base}${path}`)
  assert.equal(response.status, 200, response.text)
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  return parsePrometheusText(response.text)
}

test('a /metrics scrape is valid Prometheus text with every documented series', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming)
  app.get('/users/:id', async (_request, reply) => {
    const event = { store: 'memory', namespace: 'cache', key: 'user' }
    diagnostics.channel('fastify-perf:cache:hit').publish(event)
    diagnostics.channel('fastify-perf:cache:miss').publish(event)
    diagnostics.channel('fastify-perf:cache:stale').publish({ ...event, reason: 'revalidate' })
    diagnostics.channel('fastify-perf:cache:bypass').publish(event)
    diagnostics.channel('fastify-perf:compress:encoded').publish({
      encoding: 'br',
      bytesIn: 20_000,
      bytesOut: 3_000,
      durationMs: 2,
      reply,
    })
    return { id: 1 }
  })
  // Events with no request at all (a background refresh, a failing store).
  diagnostics
    .channel('fastify-perf:cache:store-error')
    .publish({ store: 'redis', operation: 'get', error: new Error('x') })
  diagnostics.channel('fastify-perf:cache:breaker').publish({ store: 'redis', state: 'open' })
  diagnostics.channel('fastify-perf:cache:factory-error').publish({
    store: 'memory',
    namespace: 'cache',
    key: 'k',
    error: new Error('db down'),
    graced: true,
  })
  diagnostics
    .channel('fastify-perf:cache:invalidate')
    .publish({ store: 'memory', namespace: 'cache', tags: ['a'] })
  diagnostics.channel('fastify-perf:cache:hit').publish({ store: 'memory', namespace: 'cache', key: 'bg' })

  const base = await listen(app)
  for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/users/${i}`)).status, 200)
  assert.equal((await request(`${base}/nope`)).status, 404)

  const families = await scrape(base)
  for (const [name, type] of Object.entries(DOCUMENTED_FAMILIES)) {
    assert.equal(families.get(name)?.type, type, `${name} is a ${type}`)
    assert.ok(families.get(name)!.samples.length > 0, `${name} has samples`)
  }
  const route = { method: 'GET', route: '/users/:id', status_code: '200' }
  assert.equal(seriesValue(families, 'http_request_duration_seconds_count', route), 3)
  assert.equal(seriesValue(families, 'http_request_duration_seconds_count', { route: '__unmatched__' }), 1)
  assert.equal(samplesOf(families, 'http_request_duration_seconds_count', { route: '/metrics' }).length, 0)
  const lookups = (result: string, labels = {}) =>
    seriesValue(families, 'fastify_perf_cache_lookups_total', { result, store: 'memory', ...labels })
  assert.equal(lookups('hit', { route: '/users/:id' }), 3)
  assert.equal(lookups('hit', { route: '__none__' }), 1, 'an event outside any request')
  assert.equal(lookups('miss'), 3)
  assert.equal(lookups('stale'), 3)
  assert.equal(lookups('bypass'), 3)
  assert.equal(
    seriesValue(families, 'fastify_perf_cache_store_errors_total', { store: 'redis', operation: 'get' }),
    1,
  )
  assert.equal(seriesValue(families, 'fastify_perf_cache_breaker_state', { store: 'redis' }), 2)
  assert.equal(seriesValue(families, 'fastify_perf_cache_factory_errors_total', { graced: 'true' }), 1)
  assert.equal(seriesValue(families, 'fastify_perf_cache_invalidations_total', { kind: 'tags' }), 1)
  assert.equal(seriesValue(families, 'fastify_perf_compress_bytes_in_total', { encoding: 'br' }), 60_000)
  assert.equal(seriesValue(families, 'fastify_perf_compress_bytes_out_total', { encoding: 'br' }), 9_000)
  assert.equal(seriesValue(families, 'fastify_perf_compress_responses_total', { encoding: 'br' }), 3)
  assert.ok(Math.abs(seriesValue(families, 'fastify_perf_compress_duration_seconds_total') - 0.006) < 1e-9)
  const utilization = seriesValue(families, 'fastify_perf_eventloop_utilization')
  assert.ok(utilization >= 0 && utilization <= 1)
  // The scrape itself is the only request in flight while the metrics are read.
  assert.equal(seriesValue(families, 'http_requests_in_flight'), 1)
})

test('route cache outcomes are counted by method, route and outcome, and shown in Server-Timing', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    metrics: { defaultMetrics: false },
    serverTiming: { expose: () => true },
  })
  const routeChannel = diagnostics.channel('fastify-perf:cache:route')
  // Published from a hook as the route cache does, with the request in the payload.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/products/')) return
    if (request.url === '/products/1') {
      routeChannel.publish({ route: 'GET /products/:id', outcome: 'hit', request })
      return reply.send('cached')
    }
    routeChannel.publish({ route: 'GET /products/:id', outcome: 'miss', stored: true })
  })
  app.get('/products/:id', async () => 'fresh')
  const base = await listen(app)
  const hit = await request(`${base}/products/1`)
  assert.equal(hit.text, 'cached')
  assert.match(String(hit.headers['server-timing']), /cache;desc="hit"/)
  await request(`${base}/products/2`)
  const families = await scrape(base)
  const outcomes = (outcome: string) =>
    seriesValue(families, 'fastify_perf_route_cache_responses_total', {
      method: 'GET',
      route: '/products/:id',
      outcome,
    })
  assert.equal(outcomes('hit'), 1)
  assert.equal(outcomes('miss'), 1)
})

test('10,000 requests to random unknown URLs add no label value beyond __unmatched__', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false } })
  app.get('/known/:id', async () => 'ok')
  const base = await listen(app)
  await request(`${base}/known/1`)
  const before = await scrape(base)
  const seriesBefore = [...before.values()].reduce((n, family) => n + family.samples.length, 0)

  const methods = ['GET', 'POST', 'DELETE']
  let sent = 0
  const worker = async () => {
    while (sent < 10_000) {
      const i = sent++
      const path = `/${randomBytes(6).toString('hex')}/${i}?q=${randomBytes(4).toString('hex')}`
      const response = await fetch(`${base}${path}`, { method: methods[i % 3] })
      await response.arrayBuffer()
      assert.equal(response.status, 404)
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))

  const after = await scrape(base)
  const routes = new Set(samplesOf(after, 'http_request_duration_seconds_count').map((s) => s.labels.route))
  assert.deepEqual([...routes].sort(), ['/known/:id', '__unmatched__'])
  for (const method of methods) {
    assert.equal(
      seriesValue(after, 'http_request_duration_seconds_count', { route: '__unmatched__', method }),
      method === 'GET' ? 3334 : 3333,
    )
  }
  // One histogram series per method of __unmatched__: 3 × (11 buckets + +Inf + sum + count).
  const seriesAfter = [...after.values()].reduce((n, family) => n + family.samples.length, 0)
  assert.equal(seriesAfter - seriesBefore, 3 * 14)
  // Keep-alive connections: every response's end was seen, only the scrape is in flight.
  assert.equal(seriesValue(after, 'http_requests_in_flight'), 1)
  for (const sample of after.get('http_request_duration_seconds')!.samples) {
    assert.ok(!/[0-9a-f]{12}/.test(JSON.stringify(sample.labels)), 'no raw URL in any label')
  }
})

test('status codes set by a later onSend hook (a 304) and by errors are the ones recorded', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false } })
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.headers['if-none-match'] === '"v1"') {
      reply.code(304)
      return ''
    }
    return payload
  })
  app.get('/page', async (_request, reply) => {
    reply.header('etag', '"v1"')
    return 'page'
  })
  app.get('/boom', async () => {
    throw new Error('boom')
  })
  const base = await listen(app)
  await request(`${base}/page`)
  await request(`${base}/page`, { headers: { 'if-none-match': '"v1"' } })
  assert.equal((await request(`${base}/boom`)).status, 500)
  const families = await scrape(base)
  assert.equal(
    seriesValue(families, 'http_request_duration_seconds_count', { route: '/page', status_code: '200' }),
    1,
  )
  assert.equal(
    seriesValue(families, 'http_request_duration_seconds_count', { route: '/page', status_code: '304' }),
    1,
  )
  assert.equal(
    seriesValue(families, 'http_request_duration_seconds_count', { route: '/boom', status_code: '500' }),
    1,
  )
})

test('histogram buckets are the configured ones and observations land in the right bucket', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false, buckets: [0.001, 0.05, 1] } })
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 60))
    return 'ok'
  })
  const base = await listen(app)
  await request(`${base}/slow`)
  const families = await scrape(base)
  const buckets = samplesOf(families, 'http_request_duration_seconds_bucket', { route: '/slow' })
  assert.deepEqual(
    buckets.map((b) => [b.labels.le, b.value]),
    [
      ['0.001', 0],
      ['0.05', 0],
      ['1', 1],
      ['+Inf', 1],
    ],
  )
  // A 60 ms timer may fire up to 1 ms early by performance.now(): libuv arms it from the loop's
  // cached time, taken before the request started being measured.
  const sum = seriesValue(families, 'http_request_duration_seconds_sum', { route: '/slow' })
  assert.ok(sum >= 0.059, `sum ${sum}`)
})

test('the metrics route: configurable path, guard answering 404 by default or 403', async (t) => {
  const hidden = buildApp(t)
  await hidden.register(fastifyPerfTiming, {
    metrics: {
      path: '/internal/metrics',
      defaultMetrics: false,
      guard: (req) => req.headers.authorization === 'Bearer ok',
    },
  })
  const base = await listen(hidden)
  assert.equal((await request(`${base}/metrics`)).status, 404)
  const refused = await request(`${base}/internal/metrics`)
  assert.equal(refused.status, 404)
  const allowed = await request(`${base}/internal/metrics`, { headers: { authorization: 'Bearer ok' } })
  assert.equal(allowed.status, 200)
  parsePrometheusText(allowed.text)

  const forbidden = buildApp(t)
  await forbidden.register(fastifyPerfTiming, {
    metrics: { defaultMetrics: false, guardStatus: 403, guard: async () => false },
  })
  const forbiddenBase = await listen(forbidden)
  const response = await request(`${forbiddenBase}/metrics`)
  assert.equal(response.status, 403)
  assert.equal(response.json<{ code: string }>().code, 'FST_PERF_TIMING_FORBIDDEN')
})

test('path: false registers no route; fastify.timing.registry serves the same text elsewhere', async (t) => {
  const registry = new Registry()
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { path: false, registry, defaultMetrics: false } })
  app.get('/', async () => 'ok')
  app.get('/custom-metrics', async (_request, reply) => {
    reply.type(app.timing.registry.contentType)
    return app.timing.registry.metrics()
  })
  const base = await listen(app)
  assert.equal(app.timing.registry, registry)
  assert.equal((await request(`${base}/metrics`)).status, 404)
  await request(`${base}/`)
  const families = await scrape(base, '/custom-metrics')
  assert.equal(seriesValue(families, 'http_request_duration_seconds_count', { route: '/' }), 1)
})

test('the in-flight gauge counts requests being handled, aborted ones included, and returns to zero', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false } })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  app.get('/wait', async () => {
    await gate
    return 'ok'
  })
  const base = await listen(app)
  const controller = new AbortController()
  const pending = [
    request(`${base}/wait`),
    request(`${base}/wait`),
    fetch(`${base}/wait`, { signal: controller.signal }).catch(() => undefined),
  ]
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(seriesValue(await scrape(base), 'http_requests_in_flight'), 4, '3 waiting + the scrape')
  controller.abort()
  await new Promise((resolve) => setTimeout(resolve, 50))
  release()
  await Promise.all(pending)
  assert.equal(seriesValue(await scrape(base), 'http_requests_in_flight'), 1, 'only the scrape')
})

test('the invalidation debt of @fastify-perf/cache: a gauge of what is pending and a counter of events', async (t) => {
  // A real cache whose store rejects every call (the package's ChaosStore over a MemoryStore):
  // its deletes are deferred, then replayed once the store answers again.
  const store = new ChaosStore(new MemoryStore())
  const namespace = `debt-${randomBytes(4).toString('hex')}`
  const app = buildApp(t)
  // prom-client's default metrics read NaN until their first sample: not what this test is about.
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false } })
  await app.register(fastifyPerfCache, { store, namespace, breaker: false })
  const base = await listen(app)
  store.mode = 'reject'
  await app.cache.delete('a')
  await app.cache.deleteMany(['b', 'c'])

  const labels = { store: 'chaos(memory)', namespace }
  let families = await scrape(base)
  assert.equal(families.get('fastify_perf_cache_invalidation_debt')?.type, 'gauge')
  assert.equal(seriesValue(families, 'fastify_perf_cache_invalidation_debt', labels), 3)
  const events = (state: string) =>
    seriesValue(families, 'fastify_perf_cache_invalidation_debt_events_total', { ...labels, state })
  assert.equal(events('deferred'), 2)

  store.mode = 'pass'
  const by = performance.now() + 2000
  while (app.cache.stats().invalidationDebt.pending > 0 && performance.now() < by) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  families = await scrape(base)
  assert.equal(seriesValue(families, 'fastify_perf_cache_invalidation_debt', labels), 0)
  assert.ok(events('replayed') >= 1)
})
