import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import { FST_PERF_TIMING_STATSD_UNAVAILABLE } from './errors.js'
import type { Measurements } from './metrics.js'
import type { ResolvedTimingOptions, StatsdClient } from './options.js'

// StatsD is the second exporter of the same measurements (metrics.ts): counters and timings are
// sent as they happen, with the same label values as Prometheus turned into tags; gauges (in-flight
// requests, breaker states, event loop) are sent every `gaugeInterval`. Metric names are the
// Prometheus ones in StatsD's dotted style, without units (StatsD timings are milliseconds):
//
//   http.request.duration   timing  method, route, status_code
//   http.requests.in_flight gauge
//   cache.lookups           count   route, store, namespace, result
//   cache.store_errors      count   store, operation
//   cache.factory_errors    count   store, namespace, graced
//   cache.invalidations     count   store, namespace, kind
//   cache.breaker_state     gauge   store                       (0 closed, 1 half-open, 2 open)
//   cache.invalidation_debt gauge   store, namespace            (invalidations pending replay)
//   cache.invalidation_debt_events  count  store, namespace, state
//   compress.responses      count   encoding
//   compress.bytes_in       count   encoding
//   compress.bytes_out      count   encoding
//   compress.duration       timing  encoding
//   eventloop.utilization   gauge                               (0 to 1 over the interval)
//   eventloop.delay.p50|p99|max gauge                           (milliseconds over the interval)

type StatsdSettings = Exclude<ResolvedTimingOptions['statsd'], false>

/** Sends the plugin's measurements to StatsD. */
export class StatsdExporter {
  readonly client: StatsdClient
  readonly #owned: boolean
  readonly #timer: NodeJS.Timeout
  readonly #delay = monitorEventLoopDelay({ resolution: 10 })
  #utilization = performance.eventLoopUtilization()

  constructor(
    client: StatsdClient,
    owned: boolean,
    private readonly measurements: Measurements,
    gaugeIntervalMs: number,
  ) {
    this.client = client
    this.#owned = owned
    this.#delay.enable()
    this.#timer = setInterval(() => this.sendGauges(), gaugeIntervalMs)
    // A metrics timer must never keep the process alive.
    this.#timer.unref()
  }

  /** One request: its duration in milliseconds, tagged like the histogram cell. */
  timing(name: string, ms: number, tags: readonly string[]): void {
    this.client.timing(name, ms, tags)
  }

  increment(name: string, value: number, tags: readonly string[]): void {
    this.client.increment(name, value, tags)
  }

  breaker(store: string, state: number): void {
    this.client.gauge('cache.breaker_state', state, [`store:${store}`])
  }

  invalidationDebt(store: string, namespace: string, pending: number): void {
    this.client.gauge('cache.invalidation_debt', pending, [`store:${store}`, `namespace:${namespace}`])
  }

  compression(tags: readonly string[], bytesIn: number, bytesOut: number, durationMs: number): void {
    this.client.increment('compress.responses', 1, tags)
    this.client.increment('compress.bytes_in', bytesIn, tags)
    this.client.increment('compress.bytes_out', bytesOut, tags)
    this.client.timing('compress.duration', durationMs, tags)
  }

  /** The gauges, now: called every `gaugeInterval` and when the app closes. */
  sendGauges(): void {
    const { client, measurements } = this
    client.gauge('http.requests.in_flight', measurements.inFlight, [])
    for (const [store, state] of measurements.breakerStates)
      client.gauge('cache.breaker_state', state, [`store:${store}`])
    for (const { store, namespace, pending } of measurements.invalidationDebt.values())
      this.invalidationDebt(store, namespace, pending)
    const current = performance.eventLoopUtilization()
    const delta = performance.eventLoopUtilization(current, this.#utilization)
    this.#utilization = current
    if (Number.isFinite(delta.utilization)) client.gauge('eventloop.utilization', delta.utilization, [])
    // The histogram is in nanoseconds; empty when the interval saw no sample.
    if (this.#delay.count > 0) {
      client.gauge('eventloop.delay.p50', this.#delay.percentile(50) / 1e6, [])
      client.gauge('eventloop.delay.p99', this.#delay.percentile(99) / 1e6, [])
      client.gauge('eventloop.delay.max', this.#delay.max / 1e6, [])
    }
    this.#delay.reset()
  }

  /** Stops the timer and closes the client if the plugin created it (flushing what is buffered). */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#delay.disable()
    if (!this.#owned) return
    await new Promise<void>((resolve) => {
      this.client.close(() => resolve())
    })
  }
}

/**
 * The exporter for the `statsd` option: the caller's client, or a hot-shots `StatsD` created
 * from the options (hot-shots is an optional peer dependency, loaded only then).
 */
export async function createStatsdExporter(
  settings: StatsdSettings,
  measurements: Measurements,
  log: FastifyBaseLogger,
): Promise<StatsdExporter> {
  if (settings.client !== null) {
    return new StatsdExporter(settings.client, false, measurements, settings.gaugeIntervalMs)
  }
  let StatsD: new (options: Record<string, unknown>) => StatsdClient
  try {
    StatsD = (await import('hot-shots')).StatsD as unknown as typeof StatsD
  } catch (error) {
    throw new FST_PERF_TIMING_STATSD_UNAVAILABLE((error as Error).message, { cause: error })
  }
  let lastWarning = 0
  const client = new StatsD({
    host: settings.host,
    port: settings.port,
    prefix: settings.prefix,
    globalTags: settings.globalTags,
    telegraf: settings.telegraf,
    maxBufferSize: settings.maxBufferSize,
    bufferFlushInterval: settings.bufferFlushInterval,
    // Metrics must never fail a request or flood the log: a send error is logged once a minute.
    errorHandler(error: Error) {
      const now = Date.now()
      if (now - lastWarning < 60_000) return
      lastWarning = now
      log.warn({ err: error }, '@fastify-perf/timing: StatsD send failed')
    },
  })
  return new StatsdExporter(client, true, measurements, settings.gaugeIntervalMs)
}
