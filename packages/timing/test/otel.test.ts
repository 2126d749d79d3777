// The OpenTelemetry exporter (`otel` option), read through the real SDK: an in-memory reader for
// the instruments and attributes, and the OTLP/HTTP exporter posting to a real HTTP receiver. The
// app is real: Fastify over sockets, @fastify-perf/cache with its memory store and with a real
// Redis (up, then stopped), @fastify-perf/compress.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { fastifyPerfCache, MemoryStore } from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, listen, request, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { OTEL_DURATION_BUCKETS } from '@fastify-perf/timing'
import { metrics } from '@opentelemetry/api'
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http'
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { histogramPoints, otelHarness, pointValue } from './support/otel.js'
import { parsePrometheusText, seriesValue } from './support/prometheus-text.js'

const SEMCONV_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
// Compressible and above the compression threshold (1 KB).
const PAGE = 'All the products of the shop, in one long page. '.repeat(100)

const DURATION = 'http.server.request.duration'
const ACTIVE = 'http.server.active_requests'

test('memory store: duration and active requests by semconv attributes; route-cache miss, hit and bypass; data-cache miss and hit; compression', async (t) => {
  const otel = otelHarness(t)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider: otel.meterProvider } })
  await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache, { store: new MemoryStore(), routes: { ttl: '1m' } })
  app.get(
    '/page/:id',
    { config: { cache: true } },
    async (req) => `${PAGE}${(req.params as { id: string }).id}`,
  )
  app.get('/data/:id', async (req) => {
    const id = (req.params as { id: string }).id
    return app.cache.getOrSet(`product:${id}`, async () => ({ id }), { ttl: '1m' })
  })
  app.get('/fail', async () => {
    throw new Error('boom')
  })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  app.get('/slow', async () => {
    await gate
    return 'late'
  })
  const base = await listen(app)

  const br = { 'accept-encoding': 'br' }
  const miss = await request(`${base}/page/1`, { headers: br })
  assert.equal(miss.status, 200)
  assert.equal(miss.headers['content-encoding'], 'br')
  assert.equal((await request(`${base}/page/1`, { headers: br })).status, 200)
  // A request with credentials is not served from the shared cache: a bypass.
  const bypass = await request(`${base}/page/1`, { headers: { ...br, authorization: 'Bearer x' } })
  assert.equal(bypass.status, 200)
  assert.equal((await request(`${base}/data/7`)).status, 200)
  assert.equal((await request(`${base}/data/7`)).status, 200)
  assert.equal((await request(`${base}/fail`)).status, 500)
  assert.equal((await request(`${base}/nothing/here`)).status, 404)

  // One request in flight while the SDK collects.
  const slow = request(`${base}/slow`)
  for (let i = 0; i < 100; i++) {
    if (pointValue(await otel.collect(), ACTIVE, { 'http.request.method': 'GET' }) === 1) break
    await sleep(10)
  }
  const during = await otel.collect()
  assert.equal(pointValue(during, ACTIVE, { 'http.request.method': 'GET', 'url.scheme': 'http' }), 1)
  release()
  assert.equal((await slow).status, 200)
  await sleep(20)

  const collected = await otel.collect()
  assert.equal(collected.get(DURATION)!.descriptor.unit, 's')
  assert.equal(collected.get(ACTIVE)!.descriptor.unit, '{request}')
  assert.equal(pointValue(collected, ACTIVE, { 'http.request.method': 'GET', 'url.scheme': 'http' }), 0)

  const page = histogramPoints(collected, DURATION, { 'http.route': '/page/:id' })
  assert.equal(page.length, 1, 'one data point for the cached route')
  assert.deepEqual(page[0]!.attributes, {
    'http.request.method': 'GET',
    'http.route': '/page/:id',
    'http.response.status_code': 200,
    'url.scheme': 'http',
  })
  assert.equal(page[0]!.value.count, 3)
  assert.deepEqual(page[0]!.value.buckets.boundaries, SEMCONV_BUCKETS)
  assert.deepEqual([...OTEL_DURATION_BUCKETS], SEMCONV_BUCKETS)
  const sum = page[0]!.value.sum ?? 0
  assert.ok(sum > 0 && sum < 10, 'seconds, not milliseconds')
  const data = histogramPoints(collected, DURATION, { 'http.route': '/data/:id' })
  assert.equal(data.length, 1)
  assert.equal(data[0]!.value.count, 2)
  const failed = histogramPoints(collected, DURATION, { 'http.route': '/fail' })
  assert.deepEqual(failed[0]?.attributes, {
    'http.request.method': 'GET',
    'http.route': '/fail',
    'http.response.status_code': 500,
    'url.scheme': 'http',
    'error.type': '500',
  })
  const unmatched = histogramPoints(collected, DURATION, { 'http.response.status_code': 404 })
  assert.deepEqual(
    unmatched.map((point) => point.attributes['http.route']),
    ['__unmatched__'],
  )
  // No error.type on a success (the exact attributes above), nor on a 4xx: the client erred.
  assert.equal(unmatched[0]!.attributes['error.type'], undefined)

  const route = (outcome: string) =>
    pointValue(collected, 'fastify_perf.cache.route_responses', {
      'http.request.method': 'GET',
      'http.route': '/page/:id',
      outcome,
    })
  assert.equal(route('miss'), 1)
  assert.equal(route('hit'), 1)
  assert.equal(route('bypass'), 1)
  const lookups = (result: string) =>
    pointValue(collected, 'fastify_perf.cache.lookups', {
      'http.route': '/data/:id',
      store: 'memory',
      namespace: 'cache',
      result,
    })
  assert.equal(lookups('miss'), 1)
  assert.equal(lookups('hit'), 1)
  assert.equal(pointValue(collected, 'fastify_perf.cache.lookups', { 'http.route': '__none__' }), 0)

  // The miss and the bypass were compressed by the plugin; the hit replayed the stored br body.
  const compressed = pointValue(collected, 'fastify_perf.compress.responses', { encoding: 'br' })
  assert.ok(compressed >= 1)
  const bytesIn = pointValue(collected, 'fastify_perf.compress.bytes_in', { encoding: 'br' })
  const bytesOut = pointValue(collected, 'fastify_perf.compress.bytes_out', { encoding: 'br' })
  assert.ok(bytesIn >= compressed * PAGE.length, `${bytesIn} bytes in`)
  assert.ok(bytesOut > 0 && bytesOut < bytesIn / 5, `${bytesOut} bytes out of ${bytesIn}`)
  assert.equal(collected.get('fastify_perf.compress.bytes_in')!.descriptor.unit, 'By')
  assert.ok(pointValue(collected, 'fastify_perf.compress.time', { encoding: 'br' }) > 0)
  const utilization = pointValue(collected, 'fastify_perf.eventloop.utilization')
  assert.ok(utilization >= 0 && utilization <= 1)
  assert.ok(collected.has('fastify_perf.eventloop.delay.p99'), 'event-loop delay (sampled every 10 ms)')
  assert.ok(pointValue(collected, 'fastify_perf.eventloop.delay.max') >= 0)

  // The same measurements as the Prometheus scrape of the same app.
  const scrape = parsePrometheusText((await request(`${base}/metrics`)).text)
  assert.equal(
    seriesValue(scrape, 'fastify_perf_cache_lookups_total', { route: '/data/:id', result: 'hit' }),
    lookups('hit'),
  )
  assert.equal(seriesValue(scrape, 'fastify_perf_compress_bytes_out_total', { encoding: 'br' }), bytesOut)
  assert.equal(
    seriesValue(scrape, 'http_request_duration_seconds_count', { route: '/page/:id', status_code: '200' }),
    page[0]!.value.count,
  )
})

test('Redis store: lookups attributed to their route with the defaults; an outage counts store errors and opens the breaker', async (t) => {
  const otel = otelHarness(t)
  const redis = await startRedis()
  t.after(() => redis.stop())
  const store = new RedisStore({ url: redis.url, prefix: testKeyPrefix('otel') })
  t.after(() => store.close())
  await store.ready()
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider: otel.meterProvider }, metrics: false })
  await app.register(fastifyPerfCache, {
    store,
    storeTimeout: '1s',
    breaker: { threshold: 3, duration: '1m' },
  })
  app.get('/data/:id', async (req) => {
    const id = (req.params as { id: string }).id
    return app.cache.getOrSet(`product:${id}`, async () => ({ id }), { ttl: '1m' })
  })
  const base = await listen(app)
  assert.equal((await request(`${base}/data/1`)).status, 200)
  // The write of the miss is not awaited by the response: read until Redis answers a hit.
  const hitLabels = { 'http.route': '/data/:id', store: 'redis', namespace: 'cache', result: 'hit' }
  for (let i = 0; i < 100; i++) {
    assert.equal((await request(`${base}/data/1`)).status, 200)
    if (pointValue(await otel.collect(), 'fastify_perf.cache.lookups', hitLabels) > 0) break
    await sleep(10)
  }
  const before = await otel.collect()
  assert.equal(
    pointValue(before, 'fastify_perf.cache.lookups', { ...hitLabels, result: 'miss' }),
    1,
    'the miss, on its route',
  )
  assert.ok(pointValue(before, 'fastify_perf.cache.lookups', hitLabels) >= 1, 'a hit, on its route')
  assert.equal(pointValue(before, 'fastify_perf.cache.lookups', { 'http.route': '__none__' }), 0)

  // The outage: Redis stops. Requests are still answered (the factory runs), store errors are
  // counted and the breaker opens after three of them.
  await redis.stop()
  for (let i = 0; i < 6; i++) assert.equal((await request(`${base}/data/${100 + i}`)).status, 200)
  const during = await otel.collect()
  const errors = (operation: string) =>
    pointValue(during, 'fastify_perf.cache.store_errors', { store: 'redis', operation })
  assert.ok(errors('get') >= 1, 'failed reads, by store and operation')
  assert.ok(errors('get') + errors('set') >= 3, 'as many failures as the breaker threshold')
  assert.equal(pointValue(during, 'fastify_perf.cache.breaker_state', { store: 'redis' }), 2, 'open')
  assert.equal(during.get('fastify_perf.cache.breaker_state')!.descriptor.unit, '1')
  const durations = histogramPoints(during, DURATION, { 'http.route': '/data/:id' })
  assert.equal(durations.length, 1)
  assert.ok(durations[0]!.value.count >= 8)
})

test('10,000 unknown URLs produce one http.route value per method', async (t) => {
  const otel = otelHarness(t)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider: otel.meterProvider }, metrics: false })
  app.get('/known/:id', async () => 'ok')
  const base = await listen(app)
  assert.equal((await request(`${base}/known/1`)).status, 200)
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
  await sleep(20)
  const collected = await otel.collect()
  const points = histogramPoints(collected, DURATION)
  assert.deepEqual([...new Set(points.map((point) => point.attributes['http.route']))].sort(), [
    '/known/:id',
    '__unmatched__',
  ])
  assert.equal(points.length, 4, 'the known route, and one point per method of __unmatched__')
  for (const method of methods) {
    const [point] = histogramPoints(collected, DURATION, {
      'http.route': '__unmatched__',
      'http.request.method': method,
    })
    assert.equal(point?.value.count, method === 'GET' ? 3334 : 3333)
  }
  assert.ok(!/[0-9a-f]{12}/.test(JSON.stringify(points.map((point) => point.attributes))), 'no raw URL')
})

test('the OTLP/HTTP exporter delivers the instruments and attributes to a real receiver', async (t) => {
  const bodies: unknown[] = []
  const failures: string[] = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      if (req.url !== '/v1/metrics') failures.push(`posted to ${req.url}`)
      if (!String(req.headers['content-type']).startsWith('application/json'))
        failures.push(`content-type ${req.headers['content-type']}`)
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const { port } = receiver.address() as AddressInfo
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `http://127.0.0.1:${port}/v1/metrics` }),
    exportIntervalMillis: 3_600_000,
  })
  const meterProvider = new MeterProvider({ readers: [reader] })
  t.after(async () => {
    // Shut down first: its last export must find the receiver (a refused export is retried for seconds).
    await meterProvider.shutdown()
    await new Promise((resolve) => {
      receiver.close(resolve)
      // The exporter's keep-alive connection would hold close() for the server's keep-alive timeout.
      receiver.closeAllConnections()
    })
  })

  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider }, metrics: false })
  await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache, { routes: { ttl: '1m' } })
  app.get('/page/:id', { config: { cache: true } }, async () => PAGE)
  const base = await listen(app)
  for (let i = 0; i < 2; i++) {
    assert.equal((await request(`${base}/page/1`, { headers: { 'accept-encoding': 'gzip' } })).status, 200)
  }
  await sleep(20)
  await reader.forceFlush()
  assert.equal(bodies.length, 1, 'one OTLP request')
  assert.ok(failures.length === 0, failures.join('\n'))

  interface OtlpAttribute {
    key: string
    value: { stringValue?: string; intValue?: string | number; doubleValue?: number }
  }
  interface OtlpMetric {
    name: string
    unit?: string
    histogram?: { dataPoints: { attributes: OtlpAttribute[]; count: string | number }[] }
    sum?: { dataPoints: { attributes: OtlpAttribute[]; asInt?: string | number; asDouble?: number }[] }
    gauge?: { dataPoints: { attributes: OtlpAttribute[] }[] }
  }
  const body = bodies[0] as {
    resourceMetrics: { scopeMetrics: { scope: { name: string }; metrics: OtlpMetric[] }[] }[]
  }
  const scope = body.resourceMetrics[0]!.scopeMetrics.find((s) => s.scope.name === '@fastify-perf/timing')
  assert.ok(scope, 'the @fastify-perf/timing scope')
  const byName = new Map(scope.metrics.map((metric) => [metric.name, metric]))
  const flat = (attributes: OtlpAttribute[]) =>
    Object.fromEntries(
      attributes.map(({ key, value }) => [
        key,
        value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue),
      ]),
    )
  const duration = byName.get(DURATION)
  assert.equal(duration?.unit, 's')
  const [point] = duration!.histogram!.dataPoints
  assert.deepEqual(flat(point!.attributes), {
    'http.request.method': 'GET',
    'http.route': '/page/:id',
    'http.response.status_code': 200,
    'url.scheme': 'http',
  })
  assert.equal(Number(point!.count), 2)
  assert.ok(byName.get(ACTIVE)?.sum, `${ACTIVE} is a sum`)
  const outcomes = byName
    .get('fastify_perf.cache.route_responses')!
    .sum!.dataPoints.map((p) => flat(p.attributes).outcome)
    .sort()
  assert.deepEqual(outcomes, ['hit', 'miss'])
  const bytesIn = byName.get('fastify_perf.compress.bytes_in')!
  assert.equal(bytesIn.unit, 'By')
  assert.deepEqual(flat(bytesIn.sum!.dataPoints[0]!.attributes), { encoding: 'gzip' })
  for (const name of [
    'fastify_perf.compress.bytes_out',
    'fastify_perf.compress.responses',
    'fastify_perf.compress.time',
    'fastify_perf.eventloop.utilization',
  ]) {
    assert.ok(byName.has(name), `${name} delivered`)
  }
})

test('otel: true records into the global MeterProvider', async (t) => {
  const otel = otelHarness(t)
  assert.ok(metrics.setGlobalMeterProvider(otel.meterProvider))
  t.after(() => metrics.disable())
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: true, metrics: false })
  app.get('/', async () => 'ok')
  const base = await listen(app)
  assert.equal((await request(base)).status, 200)
  await sleep(20)
  const [point] = histogramPoints(await otel.collect(), DURATION, { 'http.route': '/' })
  assert.equal(point?.value.count, 1)
})

test('otel: true without a global MeterProvider warns once at registration, and requests still work', async (t) => {
  const lines: string[] = []
  const app = buildApp(t, {
    logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } },
  })
  await app.register(fastifyPerfTiming, { otel: true, metrics: false })
  app.get('/', async () => 'ok')
  assert.equal((await request(await listen(app))).status, 200)
  const warnings = lines.filter((line) => line.includes('no global MeterProvider'))
  assert.equal(warnings.length, 1, lines.join('\n'))
})

test('a closed app stops observing: its instruments report nothing new', async (t) => {
  // Delta temporality: an asynchronous instrument nobody observes has no data point (cumulative
  // ones keep their last value).
  const otel = otelHarness(t, AggregationTemporality.DELTA)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider: otel.meterProvider }, metrics: false })
  app.get('/', async () => 'ok')
  const base = await listen(app)
  assert.equal((await request(base)).status, 200)
  await sleep(20)
  assert.ok((await otel.collect()).has('fastify_perf.eventloop.utilization'))
  await app.close()
  const after = await otel.collect()
  assert.equal(after.get('fastify_perf.eventloop.utilization')?.dataPoints.length ?? 0, 0)
})

test('invalid otel options fail registration with FST_PERF_TIMING_INVALID_OPTION', async (t) => {
  for (const [otel, message] of [
    ['yes', /otel must be an object/],
    [{ meterProvider: {} }, /otel\.meterProvider must be an OpenTelemetry MeterProvider/],
    [{ meterProvider: null }, /otel\.meterProvider must be/],
    [{ buckets: [0.1, 0.05] }, /otel\.buckets must be finite positive numbers/],
    [{ buckets: [] }, /otel\.buckets must be a non-empty array/],
    [{ bucket: [1] }, /unknown option "otel\.bucket"/],
  ] as const) {
    const app = buildApp(t)
    await assert.rejects(
      async () => {
        await app.register(fastifyPerfTiming, { otel: otel as never })
        await app.ready()
      },
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FST_PERF_TIMING_INVALID_OPTION')
        assert.match(error.message, message)
        return true
      },
    )
  }
})

test('otel.buckets replaces the advised boundaries', async (t) => {
  const otel = otelHarness(t)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    otel: { meterProvider: otel.meterProvider, buckets: [0.001, 0.5] },
    metrics: false,
  })
  app.get('/', async () => 'ok')
  assert.equal((await request(await listen(app))).status, 200)
  await sleep(20)
  const [point] = histogramPoints(await otel.collect(), DURATION)
  assert.deepEqual(point?.value.buckets.boundaries, [0.001, 0.5])
})

test('without @opentelemetry/api, otel fails at registration with FST_PERF_TIMING_OTEL_UNAVAILABLE naming the package', async () => {
  // A child process whose module resolution cannot find the package (a resolve hook registered
  // before the plugin loads), as in an app that never installed it; the rest is the real plugin.
  const fixture = fileURLToPath(new URL('./fixtures/otel-missing.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv, fixture], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout) as { code: string; message: string; withoutOtel: number }
  assert.equal(result.code, 'FST_PERF_TIMING_OTEL_UNAVAILABLE')
  assert.match(result.message, /needs the @opentelemetry\/api package \(npm install @opentelemetry\/api\)/)
  assert.equal(result.withoutOtel, 200, 'without the option, the plugin works without the package')
})
