// `otel: { metricProducer }`: the request duration counted in the plugin's cells and handed to the
// real OpenTelemetry SDK by a MetricProducer given to its reader, instead of `Histogram.record()`
// per request. Read through the SDK (in-memory exporter, and the OTLP/HTTP exporter posting to a
// real HTTP receiver), against the record path for the same traffic. Real Fastify over sockets,
// @fastify-perf/cache with its memory store for a cached route.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fastifyPerfCache, MemoryStore } from '@fastify-perf/cache'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, {
  createOtelMetricProducer,
  OTEL_DURATION_BUCKETS,
  type OtelMetricProducer,
} from '@fastify-perf/timing'
import { type Attributes, type HrTime, metrics, ValueType } from '@opentelemetry/api'
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http'
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import type { FastifyInstance } from 'fastify'
import { OtelDurationCell } from '../src/otel-producer.js'
import { histogramPoints, type OtelHarness, otelHarness, pointValue } from './support/otel.js'

const DURATION = 'http.server.request.duration'
const SCOPE = '@fastify-perf/timing'
/** How long `/slow` takes at least: above the 0.1 s boundary, so its bucket is known. */
// Well above the 0.1 s boundary: a timer may fire a few ms early against `performance.now()` (libuv
// starts it from the loop's cached time, stale on a loaded machine), so 120 ms could measure 118.
const SLOW_MS = 150

/** The same routes on an app with the record path and on one with the producer. */
async function shop(t: Parameters<typeof otelHarness>[0], otel: object): Promise<string> {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel, metrics: false })
  await app.register(fastifyPerfCache, { store: new MemoryStore(), routes: { ttl: '1m' } })
  app.get(
    '/page/:id',
    { config: { cache: true } },
    async (req) => `page ${(req.params as { id: string }).id}`,
  )
  app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }))
  app.post('/users', async (_req, reply) => reply.code(201).send({ created: true }))
  app.get('/slow', async () => {
    await sleep(SLOW_MS)
    return 'late'
  })
  app.get('/fail', async () => {
    throw new Error('boom')
  })
  return listen(app)
}

/** The same requests, answered the same way. */
async function traffic(base: string): Promise<void> {
  const expect = async (path: string, status: number, method = 'GET') =>
    assert.equal((await request(`${base}${path}`, { method })).status, status, `${method} ${path}`)
  for (let i = 0; i < 3; i++) await expect('/page/1', 200) // a miss, then two hits
  await expect('/page/2', 200)
  for (let i = 0; i < 4; i++) await expect(`/users/${i}`, 200)
  await expect('/users', 201, 'POST')
  await expect('/slow', 200)
  await expect('/fail', 500)
  await expect('/no/such/page', 404)
  // `PROPFIND` is not a method of the conventions: `_OTHER`, one data point with MKCOL's.
  await expect('/no/such/page', 404, 'PROPFIND')
  await expect('/no/such/page', 404, 'MKCOL')
  // The response's `close` (which counts it) comes after the client has the body.
  await sleep(20)
}

interface Point {
  attributes: Attributes
  startTime: HrTime
  endTime: HrTime
  value: Histogram
}

/** The duration's data points, in a stable order, with the metric they came in. */
function durationPoints(collected: Map<string, MetricData>): { metric: MetricData; points: Point[] } {
  const metric = collected.get(DURATION)
  assert.ok(metric, `${DURATION} exported`)
  assert.equal(metric.dataPointType, DataPointType.HISTOGRAM)
  const points = (metric.dataPoints as Point[])
    .slice()
    .sort((a, b) => (JSON.stringify(a.attributes) < JSON.stringify(b.attributes) ? -1 : 1))
  return { metric, points }
}

/** The producer's harness: a MeterProvider for the other instruments, a reader with the producer. */
function producerHarness(t: Parameters<typeof otelHarness>[0], producer: OtelMetricProducer): OtelHarness {
  return otelHarness(t, AggregationTemporality.CUMULATIVE, [producer])
}

test('with a metric producer, the exported duration histogram has the data points of the record path for the same traffic', async (t) => {
  const recorded = otelHarness(t)
  await traffic(await shop(t, { meterProvider: recorded.meterProvider }))
  const producer = createOtelMetricProducer()
  const produced = producerHarness(t, producer)
  await traffic(await shop(t, { meterProvider: produced.meterProvider, metricProducer: producer }))

  const fromRecord = await recorded.collect()
  const fromProducer = await produced.collect()
  const record = durationPoints(fromRecord)
  const mine = durationPoints(fromProducer)

  // One metric, the same descriptor, in the plugin's instrumentation scope: the producer's (the
  // meter has no such instrument with a producer, so the SDK exports nothing of its own for it).
  const scopes = produced.exported!.scopeMetrics.filter((scope) =>
    scope.metrics.some((metric) => metric.descriptor.name === DURATION),
  )
  assert.equal(scopes.length, 1, 'one scope has the duration')
  assert.equal(scopes[0]!.scope.name, SCOPE)
  assert.equal(mine.metric.descriptor.unit, 's')
  assert.equal(mine.metric.descriptor.description, record.metric.descriptor.description)
  assert.equal(mine.metric.descriptor.valueType, ValueType.DOUBLE)
  assert.equal(mine.metric.aggregationTemporality, AggregationTemporality.CUMULATIVE)
  // The resource is the MeterProvider's (the reader keeps it; a producer's is dropped).
  assert.deepEqual(produced.exported!.resource.attributes, recorded.exported!.resource.attributes)

  // The same attribute sets and counts, data point by data point; the durations themselves differ.
  assert.deepEqual(
    mine.points.map((point) => [point.attributes, point.value.count]),
    record.points.map((point) => [point.attributes, point.value.count]),
  )
  assert.deepEqual(
    mine.points.map((point) => point.attributes),
    [
      {
        'http.request.method': 'GET',
        'http.route': '/fail',
        'http.response.status_code': 500,
        'url.scheme': 'http',
        'error.type': '500',
      },
      {
        'http.request.method': 'GET',
        'http.route': '/page/:id',
        'http.response.status_code': 200,
        'url.scheme': 'http',
      },
      {
        'http.request.method': 'GET',
        'http.route': '/slow',
        'http.response.status_code': 200,
        'url.scheme': 'http',
      },
      {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 200,
        'url.scheme': 'http',
      },
      {
        'http.request.method': 'GET',
        'http.route': '__unmatched__',
        'http.response.status_code': 404,
        'url.scheme': 'http',
      },
      {
        'http.request.method': 'POST',
        'http.route': '/users',
        'http.response.status_code': 201,
        'url.scheme': 'http',
      },
      {
        'http.request.method': '_OTHER',
        'http.route': '__unmatched__',
        'http.response.status_code': 404,
        'url.scheme': 'http',
      },
    ],
  )
  const count = (attributes: Attributes) =>
    histogramPoints(fromProducer, DURATION, attributes)[0]?.value.count
  assert.equal(count({ 'http.route': '/page/:id' }), 4, 'the cached route: misses and hits')
  assert.equal(count({ 'http.route': '/users/:id' }), 4)
  assert.equal(count({ 'http.request.method': '_OTHER' }), 2)

  for (const point of mine.points) {
    const { value } = point
    assert.deepEqual(value.buckets.boundaries, [...OTEL_DURATION_BUCKETS])
    assert.ok(Array.isArray(value.buckets.counts), 'a plain array, as the SDK gives (JSON-encodable)')
    assert.equal(value.buckets.counts.length, OTEL_DURATION_BUCKETS.length + 1)
    assert.equal(
      value.buckets.counts.reduce((a, b) => a + b, 0),
      value.count,
      'the bucket counts add up to the count',
    )
    assert.ok(value.sum! > 0 && value.sum! < value.count * 5, `seconds: ${value.sum}`)
    assert.ok(
      value.min! > 0 && value.min! <= value.max! && value.max! <= value.sum!,
      'min and max, in seconds',
    )
    // The start is the cell's first request (the record path's: its first record).
    assert.ok(compare(point.startTime, point.endTime) < 0, 'started before it ended')
  }

  // `/slow` slept 150 ms on both paths: nothing in the buckets up to 0.1 s.
  for (const points of [mine.points, record.points]) {
    const [slow] = points.filter((point) => point.attributes['http.route'] === '/slow')
    const upTo100ms = OTEL_DURATION_BUCKETS.indexOf(0.1)
    assert.deepEqual(slow!.value.buckets.counts.slice(0, upTo100ms + 1), Array(upTo100ms + 1).fill(0))
    assert.equal(
      slow!.value.buckets.counts.slice(upTo100ms + 1).reduce((a, b) => a + b, 0),
      1,
    )
    assert.ok(slow!.value.min! > 0.1 && slow!.value.sum! > 0.1, `/slow: ${slow!.value.min} s`)
  }

  // The asynchronous instruments are still the meter's: the route cache's outcomes of the same app.
  const outcome = (name: string) =>
    pointValue(fromProducer, 'fastify_perf.cache.route_responses', {
      'http.route': '/page/:id',
      outcome: name,
    })
  assert.equal(outcome('miss'), 2)
  assert.equal(outcome('hit'), 2)
})

test('bucket placement is the SDK Histogram.record() one, also for values on a boundary', async (t) => {
  const otel = otelHarness(t)
  const boundaries = [0.005, 0.01, 0.075, 0.1, 1]
  const histogram = otel.meterProvider
    .getMeter('placement')
    .createHistogram('placement', { advice: { explicitBucketBoundaries: boundaries } })
  const cell = new OtelDurationCell({}, 'placement', Float64Array.from(boundaries))
  // Each boundary exactly, just above and below it, zero, tiny and huge values, and the ms-to-s
  // conversion of the plugin (75 ms is 0.075 s exactly, 0.075 * 1000 is not 75).
  const values = [0, 1e-9, 5 / 1000, 10 / 1000, 75 / 1000, 100 / 1000, 1000 / 1000, 3600]
  for (const bound of boundaries) values.push(bound, bound - 1e-12, bound + 1e-12)
  for (const value of values) {
    histogram.record(value)
    cell.observe(value)
  }
  const [point] = histogramPoints(await otel.collect(), 'placement')
  assert.deepEqual(Array.from(cell.counts), point!.value.buckets.counts)
  assert.equal(cell.count, point!.value.count)
  assert.equal(cell.sum, point!.value.sum)
  assert.equal(cell.min, point!.value.min)
  assert.equal(cell.max, point!.value.max)
})

test('two apps sharing one producer (created before them) add up into one data point per attribute set', async (t) => {
  const producer = createOtelMetricProducer()
  const otel = producerHarness(t, producer)
  const build = async (routes: string[]) => {
    const app = buildApp(t)
    await app.register(fastifyPerfTiming, {
      otel: { meterProvider: otel.meterProvider, metricProducer: producer },
      metrics: false,
    })
    for (const route of routes) app.get(route, async () => 'ok')
    return { app, base: await listen(app) }
  }
  const a = await build(['/shared/:id', '/only-a'])
  const b = await build(['/shared/:id'])
  for (let i = 0; i < 2; i++) assert.equal((await request(`${a.base}/shared/${i}`)).status, 200)
  for (let i = 0; i < 3; i++) assert.equal((await request(`${b.base}/shared/${i}`)).status, 200)
  assert.equal((await request(`${a.base}/only-a`)).status, 200)
  await sleep(20)
  const shared = async () => {
    const collected = await otel.collect()
    const points = histogramPoints(collected, DURATION, { 'http.route': '/shared/:id' })
    assert.equal(points.length, 1, 'one data point, not one per app')
    const [onlyA] = histogramPoints(collected, DURATION, { 'http.route': '/only-a' })
    return { shared: points[0]!.value, onlyA: onlyA?.value }
  }
  const both = await shared()
  assert.equal(both.shared.count, 5)
  assert.equal(
    both.shared.buckets.counts.reduce((x, y) => x + y, 0),
    5,
  )
  assert.equal(both.onlyA?.count, 1)
  // Collecting again changes nothing: cumulative, nothing reset by a collection.
  assert.equal((await shared()).shared.count, 5)
  assert.ok(both.shared.sum! > 0)
})

test('an app closed leaves the producer: what it counted stays (cumulative), counted once, the other app goes on', async (t) => {
  const producer = createOtelMetricProducer()
  const otel = producerHarness(t, producer)
  const apps: FastifyInstance[] = []
  const build = async () => {
    const app = buildApp(t)
    await app.register(fastifyPerfTiming, {
      otel: { meterProvider: otel.meterProvider, metricProducer: producer },
      metrics: false,
    })
    app.get('/shared', async () => 'ok')
    app.get('/gate', async () => {
      arrived = true
      await gate
      return 'late'
    })
    apps.push(app)
    return listen(app)
  }
  let arrived = false
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const a = await build()
  const b = await build()
  for (let i = 0; i < 2; i++) assert.equal((await request(`${a}/shared`)).status, 200)
  assert.equal((await request(`${b}/shared`)).status, 200)
  // A request of app A still running when A closes: Fastify waits for it before the plugin's
  // onClose hook, which leaves the producer; it counts.
  const late = request(`${a}/gate`)
  for (let i = 0; i < 200 && !arrived; i++) await sleep(5)
  assert.ok(arrived)
  const closing = apps[0]!.close()
  await sleep(20)
  release()
  assert.equal((await late).status, 200)
  await closing
  await sleep(20)

  const count = async (route: string) => {
    const points = histogramPoints(await otel.collect(), DURATION, { 'http.route': route })
    assert.ok(points.length <= 1, `${route}: one data point`)
    return points[0]?.value.count ?? 0
  }
  assert.equal(await count('/shared'), 3, "A's two and B's one, once each")
  assert.equal(await count('/gate'), 1, 'the request that finished while A closed')
  assert.equal((await request(`${b}/shared`)).status, 200)
  await sleep(20)
  assert.equal(await count('/shared'), 4, 'B goes on counting')
  await apps[1]!.close()
  assert.equal(await count('/shared'), 4, 'and stays when B closes too')
  assert.equal(await count('/gate'), 1)
})

test('10,000 unknown URLs through the producer give one http.route value per method', async (t) => {
  const producer = createOtelMetricProducer()
  const otel = producerHarness(t, producer)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    otel: { meterProvider: otel.meterProvider, metricProducer: producer },
    metrics: false,
  })
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

test("the OTLP/HTTP exporter delivers the producer's histogram to a real receiver", async (t) => {
  const bodies: unknown[] = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const { port } = receiver.address() as AddressInfo
  const producer = createOtelMetricProducer({ buckets: [0.001, 0.5] })
  const reader = new PeriodicExportingMetricReader({
    // The exporter asks for delta: the producer's data is cumulative all the same (it is not told).
    exporter: new OTLPMetricExporter({
      url: `http://127.0.0.1:${port}/v1/metrics`,
      temporalityPreference: AggregationTemporalityPreference.DELTA,
    }),
    exportIntervalMillis: 3_600_000,
    metricProducers: [producer],
  })
  const meterProvider = new MeterProvider({ readers: [reader] })
  t.after(async () => {
    await meterProvider.shutdown()
    await new Promise((resolve) => {
      receiver.close(resolve)
      receiver.closeAllConnections()
    })
  })
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider, metricProducer: producer }, metrics: false })
  app.get('/page/:id', async () => 'page')
  const base = await listen(app)
  for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/page/${i}`)).status, 200)
  await sleep(20)
  await reader.forceFlush()
  assert.equal(bodies.length, 1, 'one OTLP request')

  interface OtlpHistogramPoint {
    attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[]
    count: string | number
    sum: number
    min: number
    max: number
    bucketCounts: (string | number)[]
    explicitBounds: number[]
    startTimeUnixNano: string
    timeUnixNano: string
  }
  interface OtlpMetric {
    name: string
    unit?: string
    histogram?: { aggregationTemporality: number; dataPoints: OtlpHistogramPoint[] }
  }
  const body = bodies[0] as {
    resourceMetrics: { scopeMetrics: { scope: { name: string }; metrics: OtlpMetric[] }[] }[]
  }
  const durations = body.resourceMetrics[0]!.scopeMetrics.flatMap((scope) =>
    scope.metrics.filter((metric) => metric.name === DURATION).map((metric) => ({ scope, metric })),
  )
  assert.equal(durations.length, 1, 'the histogram, once')
  const [{ scope, metric }] = durations as [(typeof durations)[0]]
  assert.equal(scope.scope.name, SCOPE)
  assert.equal(metric.unit, 's')
  assert.equal(metric.histogram?.aggregationTemporality, 2, 'AGGREGATION_TEMPORALITY_CUMULATIVE')
  assert.equal(metric.histogram.dataPoints.length, 1)
  const [point] = metric.histogram.dataPoints
  assert.deepEqual(
    Object.fromEntries(
      point!.attributes.map(({ key, value }) => [key, value.stringValue ?? Number(value.intValue)]),
    ),
    {
      'http.request.method': 'GET',
      'http.route': '/page/:id',
      'http.response.status_code': 200,
      'url.scheme': 'http',
    },
  )
  assert.equal(Number(point!.count), 3)
  assert.deepEqual(point!.explicitBounds, [0.001, 0.5])
  assert.equal(point!.bucketCounts.length, 3)
  assert.equal(
    point!.bucketCounts.reduce((a: number, b) => a + Number(b), 0),
    3,
  )
  assert.ok(point!.sum > 0 && point!.min <= point!.max)
  assert.ok(BigInt(point!.startTimeUnixNano) < BigInt(point!.timeUnixNano))
  // The other instruments came from the meter, in the same request.
  assert.ok(
    body.resourceMetrics[0]!.scopeMetrics.some((s) =>
      s.metrics.some((m) => m.name === 'http.server.active_requests'),
    ),
  )
})

test('otel.metricProducer is checked at registration with FST_PERF_TIMING_INVALID_OPTION', async (t) => {
  const sdkReader = new PeriodicExportingMetricReader({
    exporter: { export: () => {}, forceFlush: async () => {}, shutdown: async () => {} } as never,
  })
  t.after(() => sdkReader.shutdown().catch(() => {}))
  for (const [otel, message] of [
    [{ metricProducer: {} }, /otel\.metricProducer must be a producer from createOtelMetricProducer\(\)/],
    [{ metricProducer: null }, /otel\.metricProducer must be a producer.*got null/],
    // An SDK MetricProducer (collect()) is not one the plugin can fill.
    [{ metricProducer: { collect: async () => ({}) } }, /otel\.metricProducer must be a producer/],
    [{ metricProducer: sdkReader }, /otel\.metricProducer must be a producer/],
    [
      { metricProducer: createOtelMetricProducer(), buckets: [0.1, 1] },
      /otel\.buckets does not apply with otel\.metricProducer: pass them to createOtelMetricProducer\(\{ buckets \}\)/,
    ],
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
  for (const [buckets, message] of [
    [[], /createOtelMetricProducer\(\) buckets must be a non-empty array/],
    [[0.5, 0.1], /createOtelMetricProducer\(\) buckets must be finite positive numbers/],
    ['0.1', /must be a non-empty array of seconds, got "0.1"/],
  ] as const) {
    assert.throws(
      () => createOtelMetricProducer({ buckets: buckets as never }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FST_PERF_TIMING_INVALID_OPTION')
        assert.match(error.message, message)
        return true
      },
    )
  }
})

test('otel: { metricProducer } with the global MeterProvider (NodeSDK sets it) and the producer on its reader', async (t) => {
  const producer = createOtelMetricProducer()
  const otel = producerHarness(t, producer)
  assert.ok(metrics.setGlobalMeterProvider(otel.meterProvider))
  t.after(() => metrics.disable())
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { metricProducer: producer }, metrics: false })
  app.get('/', async () => 'ok')
  assert.equal((await request(await listen(app))).status, 200)
  await sleep(20)
  const collected = await otel.collect()
  assert.equal(histogramPoints(collected, DURATION, { 'http.route': '/' })[0]?.value.count, 1)
  assert.ok(collected.has('http.server.active_requests'), 'the meter of the global provider')
})

test('without a global MeterProvider, the producer still exports the duration and the warning says so', async (t) => {
  const producer = createOtelMetricProducer()
  const otel = producerHarness(t, producer)
  const lines: string[] = []
  const app = buildApp(t, {
    logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } },
  })
  await app.register(fastifyPerfTiming, { otel: { metricProducer: producer }, metrics: false })
  app.get('/', async () => 'ok')
  assert.equal((await request(await listen(app))).status, 200)
  await sleep(20)
  const warnings = lines.filter((line) => line.includes('no global MeterProvider'))
  assert.equal(warnings.length, 1, lines.join('\n'))
  assert.match(warnings[0]!, /only http\.server\.request\.duration \(otel\.metricProducer\) is exported/)
  const collected = await otel.collect()
  assert.equal(histogramPoints(collected, DURATION, { 'http.route': '/' })[0]?.value.count, 1)
  assert.ok(!collected.has('http.server.active_requests'), 'the no-op meter observes nothing')
})

/** Orders two HrTimes. */
function compare(a: HrTime, b: HrTime): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1]
}
