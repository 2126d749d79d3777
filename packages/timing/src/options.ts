import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { FST_PERF_TIMING_INVALID_OPTION } from './errors.js'
import type { OtelMetricProducer } from './otel-producer.js'

/**
 * A duration: milliseconds as a number, or a string with a unit:
 * `'250ms'`, `'1.5s'`, `'2m'`, `'1h'`.
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`
type DurationUnit = 'ms' | 's' | 'm' | 'h'

/** Decides per request whether a response may carry timing headers. */
export type ExposePredicate = (request: FastifyRequest) => boolean

/** Options of the `Server-Timing` header. */
export interface ServerTimingOptions {
  /**
   * Whether this request's response gets a `Server-Timing` header. Timings let a client
   * fingerprint the backend (which requests hit a cache, how long a query takes), so the header is
   * off for everyone unless this says otherwise: for example a debug header checked against a
   * secret, an internal network, or a signed-in staff member.
   * @default () => process.env.NODE_ENV === 'development' (read once, at registration)
   * @example
   * expose: (request) => request.headers['x-debug-timing'] === process.env.TIMING_TOKEN
   */
  expose?: ExposePredicate
  /**
   * `Timing-Allow-Origin` sent next to `Server-Timing`, so pages of these origins can read the
   * timings through the Resource Timing API. `'*'` allows every origin. Without it browsers show the
   * timings in developer tools only to the same origin.
   * @default false (no header)
   */
  timingAllowOrigin?: string | readonly string[] | false
}

/**
 * The duck type of a prom-client `Registry` the plugin writes to: prom-client's own class, or one
 * from another copy of prom-client.
 */
export type MetricsRegistry = Pick<
  Registry,
  'registerMetric' | 'removeSingleMetric' | 'getSingleMetric' | 'metrics' | 'contentType' | 'getMetricsAsJSON'
>

/** Options of the Prometheus metrics. */
export interface MetricsOptions {
  /**
   * Where the metrics are registered. The plugin removes its metrics from it when the app closes,
   * so a registry you share between apps (or with `promClient.register`) stays usable.
   * @default a new `Registry` per app, read from `fastify.timing.registry`
   */
  registry?: Registry
  /** Path of the route serving the metrics in Prometheus text format; `false` registers no route. @default '/metrics' */
  path?: string | false
  /**
   * Who may read the metrics route. When it returns `false`, the route answers `guardStatus`.
   * @example
   * guard: (request) => request.ip === '127.0.0.1'
   */
  guard?: (request: FastifyRequest) => boolean | Promise<boolean>
  /** Status of a request the guard refuses: `404` hides that the route exists. @default 404 */
  guardStatus?: 403 | 404
  /**
   * Upper bounds of the request-duration histogram buckets, in seconds, ascending.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  buckets?: readonly number[]
  /**
   * prom-client's default process metrics (CPU, memory, heap, handles, GC, event-loop lag) in the
   * same registry. @default true
   */
  defaultMetrics?: boolean
  /**
   * In a `node:cluster` worker: answer the primary's requests for this registry, so the primary's
   * `setupClusterMetrics()` serves one scrape summed over all workers. @default false
   */
  cluster?: boolean
}

/** The part of a StatsD client the plugin calls: hot-shots' `StatsD` has it. */
export interface StatsdClient {
  timing(name: string, value: number, tags?: readonly string[]): void
  increment(name: string, value: number, tags?: readonly string[]): void
  gauge(name: string, value: number, tags?: readonly string[]): void
  close(callback?: (error?: Error) => void): void
}

/** Options of the StatsD exporter (hot-shots). */
export interface StatsdOptions {
  /** A client you created (hot-shots `StatsD` or compatible). The plugin never closes it; the other fields except `gaugeInterval` are then ignored. */
  client?: StatsdClient
  /** @default '127.0.0.1' */
  host?: string
  /** @default 8125 */
  port?: number
  /** Prefix of every metric name; hot-shots adds the `.` separator. @default '' */
  prefix?: string
  /** Tags sent with every metric (DogStatsD / Telegraf). @default {} */
  globalTags?: Readonly<Record<string, string>> | readonly string[]
  /** Telegraf's tag syntax instead of DogStatsD's. @default false */
  telegraf?: boolean
  /**
   * Metrics are batched into packets of up to this many bytes, flushed at least every
   * `bufferFlushInterval`: one UDP packet per request would cost more than the rest of the plugin.
   * `0` sends each metric at once. @default 1400 (fits an Ethernet MTU)
   */
  maxBufferSize?: number
  /** Longest a batched metric waits, in milliseconds. @default 1000 */
  bufferFlushInterval?: number
  /** How often gauges (in-flight requests, event-loop delay and utilization) are sent. @default '10s' */
  gaugeInterval?: Duration
}

/**
 * The part of an OpenTelemetry `MeterProvider` the plugin calls (`@opentelemetry/sdk-metrics`'
 * `MeterProvider` has it). Typed here so that users without `@opentelemetry/api` need not have it.
 */
export interface OtelMeterProvider {
  getMeter(name: string, version?: string, options?: { schemaUrl?: string }): unknown
}

/** The part of an OpenTelemetry `TracerProvider` the plugin calls. */
export interface OtelTracerProvider {
  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): unknown
}

/** Options of the OpenTelemetry exporter. */
export interface OtelOptions {
  /**
   * Where the instruments are created. The global one is read once, when the plugin registers: start
   * the OpenTelemetry SDK (or call `metrics.setGlobalMeterProvider()`) before registering the plugin.
   * @default the global `MeterProvider` of `@opentelemetry/api` (`metrics.getMeterProvider()`)
   */
  meterProvider?: OtelMeterProvider
  /**
   * Bucket boundaries advised for `http.server.request.duration`, in seconds, ascending (a View of
   * your SDK still overrides them). With `metricProducer`, the producer's `buckets` apply instead.
   * @default [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] (the HTTP semantic conventions')
   */
  buckets?: readonly number[]
  /**
   * Child spans of the request's span for the route cache's lookup and store write and for
   * compression, when the request is traced (a sampled span is active for it, e.g. from
   * `@fastify/otel`). Untraced requests cost one check per event. `false`: metrics only.
   * @default true
   */
  spans?: boolean
  /**
   * Where the spans' tracer comes from (`getTracer('@fastify-perf/timing')`).
   * @default the global `TracerProvider` of `@opentelemetry/api` (`trace.getTracerProvider()`, a proxy: an SDK started later is used)
   */
  tracerProvider?: OtelTracerProvider
  /**
   * The fast path for `http.server.request.duration`: a producer from `createOtelMetricProducer()`,
   * also given to your MetricReader (`metricProducers: [producer]`). Each request's duration is
   * then counted in the plugin's own cell (a bucket increment) instead of the SDK's
   * `Histogram.record()` (~2.3 µs a request in sdk-metrics 3.1), and the producer hands the
   * histogram to the reader when it collects: cumulative temporality, the producer's buckets, no
   * View. The other instruments stay on `meterProvider`.
   * @default none: the duration is recorded per request through `meterProvider`
   */
  metricProducer?: OtelMetricProducer
}

/** Options of `@fastify-perf/timing`. */
export interface FastifyPerfTimingOptions {
  /**
   * The `Server-Timing` header with `total`, the automatic phases and `reply.timing` entries.
   * `false` never sends it (`reply.timing` still feeds the slow-request log).
   * @default {} (sent only when `expose(request)` is true)
   */
  serverTiming?: boolean | ServerTimingOptions
  /**
   * Prometheus metrics with prom-client: request duration, in-flight requests, cache and
   * compression counters, event loop. `false` turns them off. @default {}
   */
  metrics?: boolean | MetricsOptions
  /** A second exporter of the same measurements over StatsD (hot-shots). @default false */
  statsd?: false | StatsdOptions
  /**
   * A third exporter of the same measurements through OpenTelemetry metrics (`@opentelemetry/api`,
   * an optional peer dependency): `http.server.request.duration`, `http.server.active_requests` and
   * the `fastify_perf.*` instruments. `true` records into the global `MeterProvider`. @default false
   */
  otel?: boolean | OtelOptions
  /**
   * Requests slower than this are logged once at `warn` with their route and phase breakdown.
   * @default false (off)
   * @example slowThreshold: '500ms'
   */
  slowThreshold?: Duration | false
  /**
   * Attribute cache and compression events to their request through `AsyncLocalStorage`, also
   * when the lookup is made after an `await` in the handler. On by default where Node implements
   * `AsyncLocalStorage` with AsyncContextFrame (Node 24 and later: +1.1 µs of CPU per request on
   * Node 26), off on Node 22, where it runs on async hooks and costs ~3.8 µs. Without it, a lookup
   * made while the request's code runs synchronously (before the handler's first `await`) is still attributed,
   * whatever the store, and route-cache outcomes always are.
   * @default true on Node >= 24 (unless `--no-async-context-frame`), false on Node 22
   */
  asyncContext?: boolean
}

/** The validated, frozen form of the options the plugin works from. */
export interface ResolvedTimingOptions {
  readonly serverTiming: false | Readonly<{ expose: ExposePredicate; timingAllowOrigin: string | null }>
  readonly metrics:
    | false
    | Readonly<{
        registry: MetricsRegistry | null
        path: string | false
        guard: ((request: FastifyRequest) => boolean | Promise<boolean>) | null
        guardStatus: 403 | 404
        buckets: readonly number[]
        defaultMetrics: boolean
        cluster: boolean
      }>
  readonly statsd:
    | false
    | Readonly<{
        client: StatsdClient | null
        host: string
        port: number
        prefix: string
        globalTags: Readonly<Record<string, string>> | readonly string[]
        telegraf: boolean
        maxBufferSize: number
        bufferFlushInterval: number
        gaugeIntervalMs: number
      }>
  readonly otel:
    | false
    | Readonly<{
        meterProvider: OtelMeterProvider | null
        buckets: readonly number[]
        spans: boolean
        tracerProvider: OtelTracerProvider | null
        metricProducer: OtelMetricProducer | null
      }>
  /** Milliseconds, or `Infinity` when off. */
  readonly slowThresholdMs: number
  readonly asyncContext: boolean
}

/**
 * Bucket boundaries of `http.server.request.duration` the OpenTelemetry HTTP semantic conventions
 * recommend (seconds).
 */
export const OTEL_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
])

/** Default buckets of `http_request_duration_seconds`, prom-client's and Prometheus' usual ones. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

// Fastify leaves its own registration options (`app.register(plugin, { prefix })`) in the
// object it hands to the plugin, so they are not "unknown" here.
const REGISTER_OPTION_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])
const OPTION_KEYS: ReadonlySet<string> = new Set<keyof FastifyPerfTimingOptions>([
  'serverTiming',
  'metrics',
  'statsd',
  'otel',
  'slowThreshold',
  'asyncContext',
])
const SERVER_TIMING_KEYS: ReadonlySet<string> = new Set<keyof ServerTimingOptions>([
  'expose',
  'timingAllowOrigin',
])
const METRICS_KEYS: ReadonlySet<string> = new Set<keyof MetricsOptions>([
  'registry',
  'path',
  'guard',
  'guardStatus',
  'buckets',
  'defaultMetrics',
  'cluster',
])
const STATSD_KEYS: ReadonlySet<string> = new Set<keyof StatsdOptions>([
  'client',
  'host',
  'port',
  'prefix',
  'globalTags',
  'telegraf',
  'maxBufferSize',
  'bufferFlushInterval',
  'gaugeInterval',
])

const OTEL_KEYS: ReadonlySet<string> = new Set<keyof OtelOptions>([
  'meterProvider',
  'buckets',
  'spans',
  'tracerProvider',
  'metricProducer',
])

/**
 * The brand of an {@link OtelMetricProducer} (otel-producer.ts sets it): told apart here without
 * importing the class, which imports this module.
 */
export const kMetricProducer: unique symbol = Symbol('fastify-perf.timing.metric-producer')

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }
const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i
// Resource Timing's `Timing-Allow-Origin` is `*` or a list of serialized origins (RFC 6454 §6.2,
// `scheme://host[:port]`, or `null`); no whitespace or comma inside one, so the joined list parses.
const ORIGIN_PATTERN = /^(?:\*|null|[a-z][a-z0-9+.-]*:\/\/[^\s,]+)$/i

/**
 * Validates the caller's options and returns a new frozen object with defaults applied.
 * Pure: never mutates `options` (reads `process.env.NODE_ENV` once for the default `expose`).
 * Throws `FST_PERF_TIMING_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: FastifyPerfTimingOptions | undefined = {}): ResolvedTimingOptions {
  assertObject(options, 'options')
  checkKeys(options, OPTION_KEYS, '', REGISTER_OPTION_KEYS)
  return Object.freeze({
    serverTiming: resolveServerTiming(options.serverTiming),
    metrics: resolveMetrics(options.metrics),
    statsd: resolveStatsd(options.statsd),
    otel: resolveOtel(options.otel),
    slowThresholdMs:
      options.slowThreshold === undefined || options.slowThreshold === false
        ? Number.POSITIVE_INFINITY
        : toMs(options.slowThreshold, 'slowThreshold'),
    asyncContext: resolveBoolean(options.asyncContext, 'asyncContext', asyncContextFrameInUse()),
  })
}

function resolveServerTiming(
  value: FastifyPerfTimingOptions['serverTiming'],
): ResolvedTimingOptions['serverTiming'] {
  if (value === false) return false
  const options: ServerTimingOptions = value === undefined || value === true ? {} : value
  assertObject(options, 'serverTiming')
  checkKeys(options, SERVER_TIMING_KEYS, 'serverTiming.')
  if (options.expose !== undefined && typeof options.expose !== 'function') {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `serverTiming.expose must be a function, got ${describe(options.expose)}`,
    )
  }
  return Object.freeze({
    expose: options.expose ?? (process.env.NODE_ENV === 'development' ? exposeAlways : exposeNever),
    timingAllowOrigin: resolveAllowOrigin(options.timingAllowOrigin),
  })
}

function resolveAllowOrigin(value: ServerTimingOptions['timingAllowOrigin']): string | null {
  if (value === undefined || value === false) return null
  const origins = typeof value === 'string' ? [value] : value
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `serverTiming.timingAllowOrigin must be an origin, '*' or a non-empty array of origins, got ${describe(value)}`,
    )
  }
  for (const origin of origins) {
    if (typeof origin !== 'string' || !ORIGIN_PATTERN.test(origin)) {
      throw new FST_PERF_TIMING_INVALID_OPTION(
        `serverTiming.timingAllowOrigin: ${JSON.stringify(origin)} is not an origin such as 'https://example.com' or '*'`,
      )
    }
  }
  return origins.join(', ')
}

function resolveMetrics(value: FastifyPerfTimingOptions['metrics']): ResolvedTimingOptions['metrics'] {
  if (value === false) return false
  const options: MetricsOptions = value === undefined || value === true ? {} : value
  assertObject(options, 'metrics')
  checkKeys(options, METRICS_KEYS, 'metrics.')
  const { registry, path, guard, guardStatus, buckets } = options
  if (registry !== undefined && !isRegistry(registry)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `metrics.registry must be a prom-client Registry, got ${describe(registry)}`,
    )
  }
  if (path !== undefined && path !== false && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `metrics.path must be a path starting with "/" or false, got ${describe(path)}`,
    )
  }
  if (guard !== undefined && typeof guard !== 'function') {
    throw new FST_PERF_TIMING_INVALID_OPTION(`metrics.guard must be a function, got ${describe(guard)}`)
  }
  if (guardStatus !== undefined && guardStatus !== 403 && guardStatus !== 404) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `metrics.guardStatus must be 403 or 404, got ${describe(guardStatus)}`,
    )
  }
  return Object.freeze({
    registry: registry ?? null,
    path: path ?? '/metrics',
    guard: guard ?? null,
    guardStatus: guardStatus ?? 404,
    buckets: buckets === undefined ? DEFAULT_BUCKETS : resolveBuckets(buckets, 'metrics.buckets'),
    defaultMetrics: resolveBoolean(options.defaultMetrics, 'metrics.defaultMetrics', true),
    cluster: resolveBoolean(options.cluster, 'metrics.cluster', false),
  })
}

/** Validates bucket boundaries (seconds, ascending, finite) into a new frozen array. */
export function resolveBuckets(buckets: unknown, what: string): readonly number[] {
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `${what} must be a non-empty array of seconds, got ${describe(buckets)}`,
    )
  }
  let previous = 0
  for (const bound of buckets) {
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= previous) {
      throw new FST_PERF_TIMING_INVALID_OPTION(
        `${what} must be finite positive numbers of seconds in ascending order (+Inf is added)`,
      )
    }
    previous = bound
  }
  return Object.freeze([...buckets])
}

function resolveStatsd(value: FastifyPerfTimingOptions['statsd']): ResolvedTimingOptions['statsd'] {
  if (value === undefined || value === false) return false
  assertObject(value, 'statsd')
  checkKeys(value, STATSD_KEYS, 'statsd.')
  const { client, host, port, prefix, globalTags, maxBufferSize, bufferFlushInterval } = value
  if (client !== undefined && !isStatsdClient(client)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `statsd.client must have timing(), increment(), gauge() and close() (a hot-shots StatsD), got ${describe(client)}`,
    )
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new FST_PERF_TIMING_INVALID_OPTION(`statsd.host must be a non-empty string, got ${describe(host)}`)
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `statsd.port must be an integer from 1 to 65535, got ${describe(port)}`,
    )
  }
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw new FST_PERF_TIMING_INVALID_OPTION(`statsd.prefix must be a string, got ${describe(prefix)}`)
  }
  if (globalTags !== undefined && !isTags(globalTags)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      'statsd.globalTags must be an object of strings or an array of strings',
    )
  }
  for (const [name, number] of [
    ['maxBufferSize', maxBufferSize],
    ['bufferFlushInterval', bufferFlushInterval],
  ] as const) {
    if (number !== undefined && !(Number.isSafeInteger(number) && number >= 0)) {
      throw new FST_PERF_TIMING_INVALID_OPTION(
        `statsd.${name} must be a whole number >= 0, got ${describe(number)}`,
      )
    }
  }
  const gaugeIntervalMs =
    value.gaugeInterval === undefined ? 10_000 : toMs(value.gaugeInterval, 'statsd.gaugeInterval')
  if (gaugeIntervalMs < 100) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `statsd.gaugeInterval must be at least 100ms, got ${describe(value.gaugeInterval)}`,
    )
  }
  return Object.freeze({
    client: client ?? null,
    host: host ?? '127.0.0.1',
    port: port ?? 8125,
    prefix: prefix ?? '',
    globalTags: globalTags ?? {},
    telegraf: resolveBoolean(value.telegraf, 'statsd.telegraf', false),
    maxBufferSize: maxBufferSize ?? 1400,
    bufferFlushInterval: bufferFlushInterval ?? 1000,
    gaugeIntervalMs,
  })
}

/** An optional `otel.<option>`: an OpenTelemetry provider, told apart by its `method`. */
function assertProvider(value: unknown, option: string, kind: string, method: string): void {
  if (value === undefined) return
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  ) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `otel.${option} must be an OpenTelemetry ${kind} (with ${method}()), got ${describe(value)}`,
    )
  }
}

function resolveOtel(value: FastifyPerfTimingOptions['otel']): ResolvedTimingOptions['otel'] {
  if (value === undefined || value === false) return false
  const options: OtelOptions = value === true ? {} : value
  assertObject(options, 'otel')
  checkKeys(options, OTEL_KEYS, 'otel.')
  const { meterProvider, buckets, spans, tracerProvider, metricProducer } = options
  assertProvider(meterProvider, 'meterProvider', 'MeterProvider', 'getMeter')
  if (spans !== undefined && typeof spans !== 'boolean') {
    throw new FST_PERF_TIMING_INVALID_OPTION(`otel.spans must be a boolean, got ${describe(spans)}`)
  }
  assertProvider(tracerProvider, 'tracerProvider', 'TracerProvider', 'getTracer')
  if (metricProducer === undefined) {
    return Object.freeze({
      meterProvider: meterProvider ?? null,
      buckets: buckets === undefined ? OTEL_DURATION_BUCKETS : resolveBuckets(buckets, 'otel.buckets'),
      spans: spans ?? true,
      tracerProvider: tracerProvider ?? null,
      metricProducer: null,
    })
  }
  if ((metricProducer as { [kMetricProducer]?: unknown } | null)?.[kMetricProducer] !== true) {
    // An SDK MetricProducer or MetricReader would be the likely mistake: the plugin needs its own,
    // whose cells it fills (and one from this copy of the package).
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `otel.metricProducer must be a producer from createOtelMetricProducer() of @fastify-perf/timing, got ${describe(metricProducer)}`,
    )
  }
  if (buckets !== undefined) {
    // Apps sharing a producer add up their data points: one set of boundaries, the producer's.
    throw new FST_PERF_TIMING_INVALID_OPTION(
      'otel.buckets does not apply with otel.metricProducer: pass them to createOtelMetricProducer({ buckets })',
    )
  }
  return Object.freeze({
    meterProvider: meterProvider ?? null,
    buckets: metricProducer.buckets,
    spans: spans ?? true,
    tracerProvider: tracerProvider ?? null,
    metricProducer,
  })
}

/** Reads a {@link Duration} into milliseconds (finite, >= 0). */
export function toMs(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value)
    const unit = match && DURATION_UNITS[match[2]!.toLowerCase()]
    if (match && unit != null) return Number(match[1]) * unit
  }
  throw new FST_PERF_TIMING_INVALID_OPTION(
    `${what} must be milliseconds or a string such as "250ms", "1.5s", "2m", got ${describe(value)}`,
  )
}

function exposeAlways(): boolean {
  return true
}

function exposeNever(): boolean {
  return false
}

function resolveBoolean(value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new FST_PERF_TIMING_INVALID_OPTION(`${what} must be a boolean, got ${describe(value)}`)
  return value
}

function isRegistry(value: unknown): value is Registry {
  const candidate = value as Record<string, unknown> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.registerMetric === 'function' &&
    typeof candidate.removeSingleMetric === 'function' &&
    typeof candidate.getSingleMetric === 'function' &&
    typeof candidate.metrics === 'function' &&
    typeof candidate.getMetricsAsJSON === 'function'
  )
}

function isStatsdClient(value: unknown): value is StatsdClient {
  const candidate = value as Record<string, unknown> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.timing === 'function' &&
    typeof candidate.increment === 'function' &&
    typeof candidate.gauge === 'function' &&
    typeof candidate.close === 'function'
  )
}

function isTags(value: unknown): boolean {
  if (Array.isArray(value)) return value.every((tag) => typeof tag === 'string')
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((tag) => typeof tag === 'string')
  )
}

function assertObject(value: unknown, what: string): asserts value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FST_PERF_TIMING_INVALID_OPTION(`${what} must be an object, got ${describe(value)}`)
  }
}

function checkKeys(
  value: object,
  known: ReadonlySet<string>,
  path: string,
  alsoAllowed?: ReadonlySet<string>,
): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key) && alsoAllowed?.has(key) !== true) {
      throw new FST_PERF_TIMING_INVALID_OPTION(`unknown option "${path}${key}"`)
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}

/**
 * Whether `AsyncLocalStorage` runs on AsyncContextFrame here: the default since Node 24 (unless
 * turned off with `--no-async-context-frame`), behind `--experimental-async-context-frame` on
 * Node 22. There it costs a frame swap per `run()`, not a promise hook on every promise.
 */
export function asyncContextFrameInUse(
  version: string = process.versions.node,
  flags: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
): boolean {
  const major = Number(version.split('.')[0])
  if (major >= 24) return !flags.includes('--no-async-context-frame')
  return flags.includes('--experimental-async-context-frame')
}
