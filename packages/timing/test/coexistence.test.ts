// Issue 17, "side by side with the usual plugins": users migrating from fastify-metrics register
// both for a while, and @fastify/otel is the other instrumentation a Fastify app commonly has.
// `fastify.metrics` is fastify-metrics' decorator, so ours is `fastify.timing`.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { FST_PERF_TIMING_INVALID_OPTION } from '@fastify-perf/timing'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { histogramPoints, otelHarness } from './support/otel.js'

// CommonJS with its plugin on `default`, as a user's `require('fastify-metrics').default`.
const fastifyMetrics = createRequire(import.meta.url)('fastify-metrics').default as FastifyPluginAsync<{
  endpoint: string
  clearRegisterOnInit: boolean
}>

for (const order of ['fastify-metrics first', 'timing first'] as const) {
  test(`next to fastify-metrics (${order}): both decorators, both scrapes count the request`, async (t) => {
    const app = Fastify()
    t.after(() => app.close())
    const registerOurs = () =>
      app.register(fastifyPerfTiming, {
        serverTiming: { expose: () => true },
        metrics: { path: '/timing-metrics' },
      })
    // fastify-metrics keeps its series in prom-client's global registry: a fresh one per test.
    const registerTheirs = () =>
      app.register(fastifyMetrics, { endpoint: '/metrics', clearRegisterOnInit: true })
    if (order === 'fastify-metrics first') {
      await registerTheirs()
      await registerOurs()
    } else {
      await registerOurs()
      await registerTheirs()
    }
    app.get('/products/:id', async () => ({ ok: true }))
    const base = await listen(app)
    const res = await request(`${base}/products/1`)
    assert.equal(res.status, 200)
    assert.match(String(res.headers['server-timing']), /^total;dur=/)
    assert.ok(app.timing.registry !== undefined, 'ours is fastify.timing')
    assert.ok(
      (app as unknown as { metrics: { client: unknown } }).metrics.client,
      'theirs is fastify.metrics',
    )
    const ours = (await request(`${base}/timing-metrics`)).text
    assert.match(ours, /http_request_duration_seconds_count\{[^}]*route="\/products\/:id"[^}]*\} 1/)
    const theirs = (await request(`${base}/metrics`)).text
    assert.match(theirs, /http_request_duration_seconds_count\{[^}]*route="\/products\/:id"[^}]*\} 1/)
  })
}

test('next to fastify-metrics on the same /metrics path: a coded error that names the option', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyMetrics, { endpoint: '/metrics', clearRegisterOnInit: true })
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfTiming)
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_TIMING_INVALID_OPTION)
      assert.match(error.message, /metrics\.path: GET \/metrics is already a route/)
      return true
    },
  )
})

for (const order of ['@fastify/otel first', 'timing first'] as const) {
  test(`next to @fastify/otel (${order}): its request decorator and our header, Prometheus and OpenTelemetry metrics`, async (t) => {
    const app = Fastify()
    t.after(() => app.close())
    const otel = new FastifyOtelInstrumentation()
    const metricsSdk = otelHarness(t)
    const registerOurs = () =>
      app.register(fastifyPerfTiming, {
        serverTiming: { expose: () => true },
        otel: { meterProvider: metricsSdk.meterProvider },
      })
    if (order === '@fastify/otel first') {
      await app.register(otel.plugin())
      await registerOurs()
    } else {
      await registerOurs()
      await app.register(otel.plugin())
    }
    app.get('/products/:id', async (req, reply) => {
      const span = (req as unknown as { opentelemetry(): { span: unknown } }).opentelemetry()
      reply.timing.add('db', 1.5)
      return { traced: span !== undefined }
    })
    const base = await listen(app)
    const res = await request(`${base}/products/7`)
    assert.equal(res.status, 200)
    assert.deepEqual(JSON.parse(res.text), { traced: true })
    assert.match(String(res.headers['server-timing']), /db;dur=1\.5/)
    const scrape = (await request(`${base}/metrics`)).text
    assert.match(scrape, /http_request_duration_seconds_count\{[^}]*route="\/products\/:id"[^}]*\} 1/)
    const [point] = histogramPoints(await metricsSdk.collect(), 'http.server.request.duration', {
      'http.route': '/products/:id',
    })
    assert.equal(point?.value.count, 1)
  })
}
