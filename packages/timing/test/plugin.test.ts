import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApp } from '@fastify-perf/test-helpers'
import fastifyPerfTimingDefault, {
  FST_PERF_TIMING_INVALID_OPTION,
  fastifyPerfTiming,
  ReplyTiming,
} from '@fastify-perf/timing'
import { Registry } from 'prom-client'

test('the default export is the named export, with the plugin metadata', () => {
  assert.equal(fastifyPerfTimingDefault, fastifyPerfTiming)
  const meta = (fastifyPerfTiming as unknown as Record<symbol, { name: string; fastify: string }>)[
    Symbol.for('plugin-meta')
  ]
  assert.equal(meta?.name, '@fastify-perf/timing')
  assert.equal(meta?.fastify, '5.x')
})

test('an unknown option fails registration with FST_PERF_TIMING_INVALID_OPTION', async (t) => {
  const app = buildApp(t)
  // @ts-expect-error `serverTimings` is not an option
  app.register(fastifyPerfTiming, { serverTimings: true })
  await assert.rejects(
    async () => {
      await app.ready()
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError)
      assert.ok(error instanceof FST_PERF_TIMING_INVALID_OPTION)
      assert.equal(error.code, 'FST_PERF_TIMING_INVALID_OPTION')
      assert.match(error.message, /unknown option "serverTimings"/)
      return true
    },
  )
})

test('Fastify registration options such as prefix are accepted', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    prefix: '/v1',
    logLevel: 'warn',
    metrics: { defaultMetrics: false },
  })
  await app.ready()
})

test('decorates reply.timing (one object per reply) and fastify.timing', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: { defaultMetrics: false } })
  let same = false
  app.get('/', async (_request, reply) => {
    const first = reply.timing
    same = first === reply.timing && first instanceof ReplyTiming
    return 'ok'
  })
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.ok(same)
  assert.ok(app.timing.registry instanceof Registry)
  assert.equal(app.timing.statsd, null)
})

test('with metrics and Server-Timing off, fastify.timing.registry is an empty registry and responses are untouched', async (t) => {
  const bare = buildApp(t)
  const withPlugin = buildApp(t)
  await withPlugin.register(fastifyPerfTiming, { metrics: false, serverTiming: false })
  const payload = JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ id: i })) })
  for (const app of [bare, withPlugin])
    app.get('/items', async (_request, reply) => reply.type('application/json').send(payload))
  const strip = ({ date: _date, ...headers }: Record<string, unknown>) => headers
  const expected = await bare.inject('/items')
  const actual = await withPlugin.inject('/items')
  assert.equal(actual.body, payload)
  assert.deepEqual(strip(actual.headers), strip(expected.headers))
  // Issue 17: a Registry, not null (the type is non-null), with nothing in it.
  assert.ok(withPlugin.timing.registry instanceof Registry)
  assert.equal((await withPlugin.timing.registry.metrics()).trim(), '')
  assert.deepEqual(withPlugin.timing.registry.getMetricsAsArray(), [])
  assert.equal((await withPlugin.inject('/metrics')).statusCode, 404)
})

test('the app closes cleanly and a shared registry can be reused by a new app', async (t) => {
  const registry = new Registry()
  for (let i = 0; i < 2; i++) {
    const app = buildApp(t)
    await app.register(fastifyPerfTiming, { metrics: { registry } })
    app.get('/', async () => 'ok')
    await app.inject('/')
    assert.ok(registry.getSingleMetric('http_request_duration_seconds'))
    await app.close()
    assert.equal(registry.getSingleMetric('http_request_duration_seconds'), undefined, 'removed on close')
    assert.equal(registry.getMetricsAsArray().length, 0, 'default metrics removed too')
  }
})
