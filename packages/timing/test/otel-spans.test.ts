// Issue 19, spans: with @fastify/otel tracing the request, the timing plugin adds children of the
// request's span for the route cache's lookup and store write and for compression. Everything is
// real: Fastify over sockets, @fastify/otel, the OpenTelemetry trace SDK with an in-memory
// exporter, @fastify-perf/cache on its memory store and on a real Redis, @fastify-perf/compress.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { type CacheStore, fastifyPerfCache, MemoryStore } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisStore } from '@fastify-perf/cache-redis'
import fastifyPerfCompress from '@fastify-perf/compress'
import {
  buildApp,
  listen,
  request,
  startMemcached,
  startRedis,
  testKeyPrefix,
} from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { FST_PERF_TIMING_INVALID_OPTION } from '@fastify-perf/timing'
import { context, type HrTime, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import type { FastifyInstance } from 'fastify'
import { otelHarness } from './support/otel.js'

// Compressible and above the compression threshold (1 KB).
const PAGE = 'All the products of the shop, in one long page. '.repeat(100)
const BR = { 'accept-encoding': 'br' }

const LOOKUP = 'fastify_perf.cache.lookup'
const WRITE = 'fastify_perf.cache.write'
const COMPRESS = 'fastify_perf.compress'

interface Tracing {
  readonly exporter: InMemorySpanExporter
  readonly provider: TracerProvider
  /** The spans ended so far (the processor exports asynchronously: flushed first). */
  spans(): Promise<ReadableSpan[]>
}

/** A real trace SDK as the global provider, with the AsyncLocalStorage context manager (as NodeSDK sets them up). */
function globalTracing(t: { after(fn: () => unknown): void }): Tracing {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  assert.ok(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()))
  assert.ok(trace.setGlobalTracerProvider(provider))
  t.after(async () => {
    await provider.shutdown()
    trace.disable()
    context.disable()
  })
  return { exporter, provider, spans: () => finished(exporter, provider) }
}

async function finished(exporter: InMemorySpanExporter, provider: TracerProvider): Promise<ReadableSpan[]> {
  await provider.forceFlush()
  return exporter.getFinishedSpans()
}

/** @fastify/otel's request spans, by URL path (one request each). */
function requestSpans(spans: readonly ReadableSpan[]): Map<string, ReadableSpan> {
  const byPath = new Map<string, ReadableSpan>()
  for (const span of spans) {
    if (span.name !== 'request') continue
    const path = String(span.attributes['url.path'])
    assert.equal(byPath.has(path), false, `one request span for ${path}`)
    byPath.set(path, span)
  }
  return byPath
}

/** Our spans whose parent is this request span (same trace, parent = its span id). */
function childrenOf(spans: readonly ReadableSpan[], parent: ReadableSpan, name: string): ReadableSpan[] {
  const { traceId, spanId } = parent.spanContext()
  return spans.filter(
    (span) =>
      span.name === name &&
      span.spanContext().traceId === traceId &&
      span.parentSpanContext?.spanId === spanId,
  )
}

/** The one `name` child of the request to `path`; every span of that name is someone's child. */
function onlyChild(spans: readonly ReadableSpan[], path: string, name: string): ReadableSpan {
  const parent = requestSpans(spans).get(path)
  assert.ok(parent !== undefined, `a request span for ${path}`)
  const children = childrenOf(spans, parent, name)
  assert.equal(children.length, 1, `one ${name} span under the request to ${path}`)
  return children[0]!
}

function ms(time: HrTime): number {
  return time[0] * 1e3 + time[1] / 1e6
}

function assertTimed(span: ReadableSpan): void {
  assert.ok(span.ended)
  assert.ok(ms(span.endTime) >= ms(span.startTime), `${span.name} ends after it starts`)
  assert.equal(span.instrumentationScope.name, '@fastify-perf/timing')
}

/** Waits until `ready` holds for the exported spans (the store write ends after the response). */
async function until(tracing: Tracing, ready: (spans: ReadableSpan[]) => boolean) {
  for (let i = 0; i < 200; i++) {
    const spans = await tracing.spans()
    if (ready(spans)) return spans
    await sleep(10)
  }
  return tracing.spans()
}

async function tracedApp(
  t: { after(fn: () => unknown): void },
  store: CacheStore,
  timing: Parameters<typeof fastifyPerfTiming>[1] = {},
): Promise<{ app: FastifyInstance; base: string }> {
  const metrics = otelHarness(t as Parameters<typeof otelHarness>[0])
  const app = buildApp(t as Parameters<typeof buildApp>[0])
  await app.register(new FastifyOtelInstrumentation().plugin())
  await app.register(fastifyPerfTiming, {
    metrics: false,
    otel: { meterProvider: metrics.meterProvider },
    ...timing,
  })
  await app.register(fastifyPerfCompress)
  // A store budget for a loaded machine: under three parallel test passes a Redis write can take
  // longer than the default 50 ms, and a write given up on is a span with `written: false`.
  await app.register(fastifyPerfCache, { store, storeTimeout: '2s', routes: { ttl: '1m' } })
  app.get(
    '/page/:id',
    { config: { cache: true } },
    async (req) => `${PAGE}${(req.params as { id: string }).id}`,
  )
  app.get('/plain', async () => PAGE)
  return { app, base: await listen(app) }
}

test('memory store: lookup spans (miss, hit, bypass) with the RFC 9211 outcome, a write span for the stored miss, a compression span, all children of the request span', async (t) => {
  const tracing = globalTracing(t)
  const { exporter } = tracing
  const { base } = await tracedApp(t, new MemoryStore())

  const miss = await request(`${base}/page/1`, { headers: BR })
  assert.equal(miss.status, 200)
  assert.equal(miss.headers['content-encoding'], 'br')
  const spans = await until(tracing, (all) => all.some((span) => span.name === WRITE))
  const lookup = onlyChild(spans, '/page/1', LOOKUP)
  assertTimed(lookup)
  assert.equal(lookup.attributes['fastify_perf.cache.outcome'], 'miss')
  assert.equal(lookup.attributes['fastify_perf.cache.stored'], true)
  assert.equal(lookup.attributes['fastify_perf.cache.store'], 'memory')
  assert.equal(lookup.attributes['http.route'], '/page/:id')
  assert.equal(lookup.attributes['http.request.method'], 'GET')
  const write = onlyChild(spans, '/page/1', WRITE)
  assertTimed(write)
  assert.equal(write.attributes['fastify_perf.cache.written'], true)
  assert.equal(write.attributes['fastify_perf.cache.store'], 'memory')
  assert.equal(write.attributes['http.route'], '/page/:id')
  const compress = onlyChild(spans, '/page/1', COMPRESS)
  assertTimed(compress)
  assert.equal(compress.attributes['fastify_perf.compress.encoding'], 'br')
  assert.equal(compress.attributes['fastify_perf.compress.bytes_in'], PAGE.length + 1)
  assert.equal(compress.attributes['fastify_perf.compress.bytes_out'], Number(miss.headers['content-length']))
  // The miss's lookup ended when the handler started: before the compression of its response.
  assert.ok(ms(lookup.endTime) <= ms(compress.startTime) + 1, 'the lookup precedes the compression')

  exporter.reset()
  const hit = await request(`${base}/page/1`, { headers: BR })
  assert.equal(hit.status, 200)
  assert.match(String(hit.headers['cache-status']), /hit/)
  const afterHit = await tracing.spans()
  const hitLookup = onlyChild(afterHit, '/page/1', LOOKUP)
  assertTimed(hitLookup)
  assert.equal(hitLookup.attributes['fastify_perf.cache.outcome'], 'hit')
  assert.equal(hitLookup.attributes['fastify_perf.cache.stored'], undefined)
  assert.equal(afterHit.filter((span) => span.name === WRITE || span.name === COMPRESS).length, 0)

  // A request with credentials is not served from the shared cache: a bypass, with its reason.
  exporter.reset()
  const bypass = await request(`${base}/page/1`, { headers: { ...BR, authorization: 'Bearer x' } })
  assert.equal(bypass.status, 200)
  const bypassLookup = onlyChild(await tracing.spans(), '/page/1', LOOKUP)
  assert.equal(bypassLookup.attributes['fastify_perf.cache.outcome'], 'bypass')
  assert.equal(typeof bypassLookup.attributes['fastify_perf.cache.detail'], 'string')
  assert.match(
    String(bypass.headers['cache-status']),
    new RegExp(`${bypassLookup.attributes['fastify_perf.cache.detail']}`),
  )

  // A route without the cache: a compression span, no lookup.
  exporter.reset()
  assert.equal((await request(`${base}/plain`, { headers: BR })).headers['content-encoding'], 'br')
  const plain = await tracing.spans()
  assertTimed(onlyChild(plain, '/plain', COMPRESS))
  assert.equal(plain.filter((span) => span.name === LOOKUP).length, 0)
})

/** A remote store on a server of its own, closed after the test. */
const REMOTE: Record<string, (t: TestContext) => Promise<CacheStore>> = {
  Redis: async (t) => {
    const redis = await startRedis()
    t.after(() => redis.stop())
    const store = new RedisStore({ url: redis.url, prefix: testKeyPrefix('spans') })
    t.after(() => store.close())
    await store.ready()
    return store
  },
  Memcached: async (t) => {
    const memcached = await startMemcached()
    t.after(() => memcached.stop())
    const store = new MemcachedStore({ servers: memcached.url, prefix: testKeyPrefix('spans') })
    t.after(() => store.close())
    return store
  },
}

for (const [name, open] of Object.entries(REMOTE))
  test(`${name} store: the lookup answered asynchronously and the background write are still children of their request span; 20 requests in parallel each get their own`, async (t) => {
    const store = await open(t)
    const tracing = globalTracing(t)
    const { exporter } = tracing
    const { base } = await tracedApp(t, store)

    const paths = Array.from({ length: 20 }, (_, i) => `/page/${i}`)
    const misses = await Promise.all(paths.map((path) => request(`${base}${path}`, { headers: BR })))
    for (const res of misses) assert.equal(res.status, 200)
    let spans = await until(tracing, (all) => all.filter((span) => span.name === WRITE).length >= 20)
    for (const path of paths) {
      const lookup = onlyChild(spans, path, LOOKUP)
      assertTimed(lookup)
      assert.equal(lookup.attributes['fastify_perf.cache.outcome'], 'miss')
      assert.equal(lookup.attributes['fastify_perf.cache.store'], store.name)
      const write = onlyChild(spans, path, WRITE)
      assertTimed(write)
      assert.equal(write.attributes['fastify_perf.cache.written'], true)
      assert.equal(write.attributes['fastify_perf.cache.store'], store.name)
      assertTimed(onlyChild(spans, path, COMPRESS))
    }
    // Every span of ours has a parent among the request spans (none lost to the wrong request).
    const ours = spans.filter((span) => [LOOKUP, WRITE, COMPRESS].includes(span.name))
    assert.equal(ours.length, 60)

    exporter.reset()
    const hits = await Promise.all(paths.map((path) => request(`${base}${path}`, { headers: BR })))
    for (const res of hits) assert.match(String(res.headers['cache-status']), /hit/)
    spans = await tracing.spans()
    for (const path of paths) {
      const lookup = onlyChild(spans, path, LOOKUP)
      assert.equal(lookup.attributes['fastify_perf.cache.outcome'], 'hit')
      // The store answered over the network: the lookup took time.
      assert.ok(ms(lookup.endTime) > ms(lookup.startTime), `a hit from ${name} takes time`)
    }
    assert.equal(spans.filter((span) => span.name === LOOKUP).length, 20)
  })

test('no tracer provider registered: @fastify/otel and the timing plugin run, no span is made', async (t) => {
  // The timing plugin's spans would go to this provider: the request spans are not sampled
  // (@fastify/otel's tracer is the global no-op), so nothing is made.
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  t.after(() => provider.shutdown())
  const { base } = await tracedApp(t, new MemoryStore(), {
    otel: { meterProvider: otelHarness(t).meterProvider, tracerProvider: provider },
  })
  const miss = await request(`${base}/page/1`, { headers: BR })
  assert.equal(miss.status, 200)
  assert.equal(miss.headers['content-encoding'], 'br')
  const hit = await request(`${base}/page/1`, { headers: BR })
  assert.match(String(hit.headers['cache-status']), /hit/)
  assert.equal((await request(`${base}/plain`, { headers: BR })).status, 200)
  await sleep(50)
  assert.deepEqual(await finished(exporter, provider), [])
  // The provider itself records (the check above could fail).
  provider.getTracer('control').startSpan('control').end()
  assert.equal((await finished(exporter, provider)).length, 1)
})

test('otel.spans: false makes no span under a traced request; otel.spans and otel.tracerProvider are validated', async (t) => {
  const tracing = globalTracing(t)
  const { base } = await tracedApp(t, new MemoryStore(), {
    otel: { meterProvider: otelHarness(t).meterProvider, spans: false },
  })
  assert.equal((await request(`${base}/page/1`, { headers: BR })).status, 200)
  await sleep(50)
  const spans = await tracing.spans()
  assert.ok(requestSpans(spans).has('/page/1'), 'the request is traced')
  assert.equal(spans.filter((span) => [LOOKUP, WRITE, COMPRESS].includes(span.name)).length, 0)

  for (const [otel, message] of [
    [{ spans: 'yes' }, /otel\.spans must be a boolean/],
    [{ tracerProvider: {} }, /otel\.tracerProvider must be an OpenTelemetry TracerProvider/],
  ] as const) {
    const app = buildApp(t)
    await assert.rejects(
      async () => {
        await app.register(fastifyPerfTiming, { otel } as never)
      },
      (error: Error) => {
        assert.ok(error instanceof FST_PERF_TIMING_INVALID_OPTION)
        assert.match(error.message, message)
        return true
      },
    )
  }
})

test('without @fastify/otel: the span active in the request context (another instrumentation) is the parent', async (t) => {
  const tracing = globalTracing(t)
  const { exporter } = tracing
  const app = buildApp(t)
  // What an instrumentation with a context manager does: a span per request, active for the rest
  // of its lifecycle (Fastify runs the next hooks from `done`).
  const tracer = trace.getTracer('another-instrumentation')
  const open = new Map<string, ReturnType<typeof tracer.startSpan>>()
  app.addHook('onRequest', (req, _reply, done) => {
    const span = tracer.startSpan('request', { attributes: { 'url.path': req.url } })
    open.set(req.id, span)
    context.with(trace.setSpan(context.active(), span), done)
  })
  app.addHook('onResponse', (req, _reply, done) => {
    open.get(req.id)?.end()
    open.delete(req.id)
    done()
  })
  await app.register(fastifyPerfTiming, {
    metrics: false,
    otel: { meterProvider: otelHarness(t).meterProvider },
  })
  await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache, { store: new MemoryStore(), routes: { ttl: '1m' } })
  app.get(
    '/page/:id',
    { config: { cache: true } },
    async (req) => `${PAGE}${(req.params as { id: string }).id}`,
  )
  const base = await listen(app)
  assert.equal((await request(`${base}/page/1`, { headers: BR })).headers['content-encoding'], 'br')
  let spans = await until(
    tracing,
    (all) => all.some((span) => span.name === WRITE) && requestSpans(all).size === 1,
  )
  assert.equal(onlyChild(spans, '/page/1', LOOKUP).attributes['fastify_perf.cache.outcome'], 'miss')
  assertTimed(onlyChild(spans, '/page/1', WRITE))
  assertTimed(onlyChild(spans, '/page/1', COMPRESS))
  exporter.reset()
  assert.match(String((await request(`${base}/page/1`, { headers: BR })).headers['cache-status']), /hit/)
  spans = await until(tracing, (all) => requestSpans(all).size === 1)
  assert.equal(onlyChild(spans, '/page/1', LOOKUP).attributes['fastify_perf.cache.outcome'], 'hit')
})
