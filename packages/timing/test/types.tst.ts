// Type tests: type-checked by `pnpm typecheck` (tsconfig.test.json), never run.
import fastifyPerfTiming, {
  createOtelMetricProducer,
  type FastifyPerfTimingOptions,
  FST_PERF_TIMING_INVALID_ENTRY,
  FST_PERF_TIMING_INVALID_OPTION,
  FST_PERF_TIMING_OTEL_UNAVAILABLE,
  fastifyPerfTiming as named,
  type ReplyTiming,
  type StatsdClient,
  setupClusterMetrics,
} from '@fastify-perf/timing'
import { metrics as otelMetrics, trace as otelTrace } from '@opentelemetry/api'
import { MeterProvider, type MetricProducer, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { TracerProvider } from '@opentelemetry/sdk-trace'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { Registry } from 'prom-client'

const app = Fastify()

expectTypeOf(fastifyPerfTiming).toEqualTypeOf(named)
expectTypeOf(fastifyPerfTiming).toEqualTypeOf<FastifyPluginAsync<FastifyPerfTimingOptions>>()

// Accepted options.
app.register(fastifyPerfTiming)
app.register(fastifyPerfTiming, {})
app.register(fastifyPerfTiming, { prefix: '/v1', logLevel: 'warn' })
app.register(fastifyPerfTiming, {
  serverTiming: { expose: (request) => request.headers['x-debug'] === '1', timingAllowOrigin: '*' },
  metrics: {
    registry: new Registry(),
    path: '/internal/metrics',
    guard: async (request) => request.ip === '127.0.0.1',
    guardStatus: 403,
    buckets: [0.01, 0.1, 1],
    defaultMetrics: false,
    cluster: true,
  },
  statsd: {
    host: 'statsd.local',
    port: 8125,
    prefix: 'shop',
    globalTags: { env: 'prod' },
    gaugeInterval: '30s',
  },
  slowThreshold: '500ms',
  asyncContext: true,
})
app.register(fastifyPerfTiming, { serverTiming: false, metrics: false, slowThreshold: 250 })
// OpenTelemetry: the SDK's MeterProvider, the API's global one, or true.
app.register(fastifyPerfTiming, { otel: { meterProvider: new MeterProvider(), buckets: [0.01, 0.1, 1] } })
app.register(fastifyPerfTiming, { otel: { meterProvider: otelMetrics.getMeterProvider() } })
app.register(fastifyPerfTiming, { otel: true })
// Spans: on or off, into the SDK's TracerProvider or the API's global one.
app.register(fastifyPerfTiming, { otel: { spans: false } })
app.register(fastifyPerfTiming, { otel: { spans: true, tracerProvider: new TracerProvider() } })
app.register(fastifyPerfTiming, { otel: { tracerProvider: otelTrace.getTracerProvider() } })
app.register(fastifyPerfTiming, { serverTiming: { timingAllowOrigin: ['https://a.example'] }, metrics: true })
// The metric producer: an SDK MetricProducer for the reader, and the plugin's option.
const metricProducer = createOtelMetricProducer({ buckets: [0.01, 0.1, 1] })
expectTypeOf(metricProducer).toExtend<MetricProducer>()
new PeriodicExportingMetricReader({ exporter: {} as never, metricProducers: [metricProducer] })
app.register(fastifyPerfTiming, { otel: { metricProducer } })
app.register(fastifyPerfTiming, {
  otel: { meterProvider: new MeterProvider(), metricProducer, spans: false },
})

// Rejected options.
// @ts-expect-error unknown option
app.register(fastifyPerfTiming, { serverTimings: true })
// @ts-expect-error expose is a function of the request
app.register(fastifyPerfTiming, { serverTiming: { expose: true } })
// @ts-expect-error guardStatus is 403 or 404
app.register(fastifyPerfTiming, { metrics: { guardStatus: 401 } })
// @ts-expect-error durations are ms or strings with a unit
app.register(fastifyPerfTiming, { slowThreshold: '1 second' })
// @ts-expect-error statsd is an object or false
app.register(fastifyPerfTiming, { statsd: true })
// @ts-expect-error a MeterProvider has getMeter()
app.register(fastifyPerfTiming, { otel: { meterProvider: {} } })
// @ts-expect-error a TracerProvider has getTracer()
app.register(fastifyPerfTiming, { otel: { tracerProvider: {} } })
// @ts-expect-error spans is a boolean
app.register(fastifyPerfTiming, { otel: { spans: 'on' } })
// @ts-expect-error otel buckets are seconds
app.register(fastifyPerfTiming, { otel: { buckets: ['1s'] } })
// @ts-expect-error the producer is one of createOtelMetricProducer(), not any SDK MetricProducer
app.register(fastifyPerfTiming, { otel: { metricProducer: {} as MetricProducer } })
// @ts-expect-error producer buckets are seconds
createOtelMetricProducer({ buckets: ['1s'] })
// @ts-expect-error a StatsD client needs timing/increment/gauge/close
app.register(fastifyPerfTiming, { statsd: { client: { timing() {} } } })

// Decorators.
app.get('/', async (_request, reply) => {
  expectTypeOf(reply.timing).toEqualTypeOf<ReplyTiming>()
  reply.timing.start('db', 'query')
  expectTypeOf(reply.timing.end('db')).toEqualTypeOf<number | undefined>()
  expectTypeOf(reply.timing.measure('sync', () => 42)).toEqualTypeOf<number>()
  expectTypeOf(reply.timing.measure('async', async () => 'x')).toEqualTypeOf<Promise<string>>()
  reply.timing.add('upstream', 12.5, 'cdn')
  // @ts-expect-error durations are numbers of milliseconds
  reply.timing.add('upstream', '12ms')
  return 'ok'
})
app.get('/health', { config: { timing: false } }, async () => 'ok')
// @ts-expect-error config.timing is a boolean
app.get('/bad', { config: { timing: 'off' } }, async () => 'ok')
// Issue 17: never null, so `app.timing.registry.metrics()` needs no check.
expectTypeOf(app.timing.registry).toEqualTypeOf<Registry>()
expectTypeOf(app.timing.statsd).toEqualTypeOf<StatsdClient | null>()

// The cluster helper.
expectTypeOf(setupClusterMetrics({ port: 9464 }))
  .resolves.toHaveProperty('url')
  .toEqualTypeOf<string>()
// @ts-expect-error port is required
setupClusterMetrics({})

// Errors are coded TypeError constructors.
expectTypeOf(new FST_PERF_TIMING_INVALID_OPTION('x')).toExtend<TypeError>()
expectTypeOf(new FST_PERF_TIMING_INVALID_OPTION('x').code).toEqualTypeOf<'FST_PERF_TIMING_INVALID_OPTION'>()
expectTypeOf(new FST_PERF_TIMING_INVALID_ENTRY('x').code).toEqualTypeOf<'FST_PERF_TIMING_INVALID_ENTRY'>()
expectTypeOf(
  new FST_PERF_TIMING_OTEL_UNAVAILABLE('x').code,
).toEqualTypeOf<'FST_PERF_TIMING_OTEL_UNAVAILABLE'>()
