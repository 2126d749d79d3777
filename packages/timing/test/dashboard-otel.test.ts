// docs/grafana/fastify-perf-otel.json: the dashboard of the OpenTelemetry metrics (`otel` option) as
// Prometheus stores them. Read against a real scrape of @opentelemetry/exporter-prometheus (the
// SDK's own Prometheus reader, OTel-to-Prometheus names without unit suffixes) after real traffic:
// a route cache miss and hit on Redis, a data-cache miss and hit, brotli responses from
// @fastify-perf/compress, then Redis stopped (store errors, the breaker opens). Every series a panel
// selects must be in that scrape, with the labels the panel reads, and also match the name
// Prometheus' OTLP receiver gives the same instrument (the table below, from its translation rules).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fastifyPerfCache } from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, listen, request, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import fastifyPerfTiming from '@fastify-perf/timing'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { type Family, parsePrometheusText } from './support/prometheus-text.js'

interface Target {
  expr: string
  datasource: { uid: string }
}
const dashboard = JSON.parse(
  readFileSync(new URL('../../../docs/grafana/fastify-perf-otel.json', import.meta.url), 'utf8'),
) as {
  uid: string
  description: string
  templating: { list: { name: string; query?: string | { query: string } }[] }
  panels: { type: string; title: string; gridPos: object; targets?: Target[] }[]
}

/**
 * Each instrument's series under the two namings: @opentelemetry/exporter-prometheus (dots to
 * underscores, `_total` on monotonic sums, no unit suffix; checked against the scrape below) and
 * Prometheus' OTLP receiver with its default UnderscoreEscapingWithSuffixes (prometheus/otlptranslator
 * `normalizeName`: the unit's suffix unless a name token already is it, `{…}` units dropped,
 * `_total` on counters, `_ratio` on gauges of unit `1`; the Collector's prometheus exporters name
 * the same). Histograms: the base name, read through `_bucket`, `_count`, `_sum`.
 */
const NAMES: readonly { instrument: string; exporter: string; otlp: string; histogram?: true }[] = [
  {
    instrument: 'http.server.request.duration',
    exporter: 'http_server_request_duration',
    otlp: 'http_server_request_duration_seconds',
    histogram: true,
  },
  {
    instrument: 'http.server.active_requests',
    exporter: 'http_server_active_requests',
    otlp: 'http_server_active_requests',
  },
  {
    instrument: 'fastify_perf.cache.lookups',
    exporter: 'fastify_perf_cache_lookups_total',
    otlp: 'fastify_perf_cache_lookups_total',
  },
  {
    instrument: 'fastify_perf.cache.route_responses',
    exporter: 'fastify_perf_cache_route_responses_total',
    otlp: 'fastify_perf_cache_route_responses_total',
  },
  {
    instrument: 'fastify_perf.cache.store_errors',
    exporter: 'fastify_perf_cache_store_errors_total',
    otlp: 'fastify_perf_cache_store_errors_total',
  },
  {
    instrument: 'fastify_perf.cache.breaker_state',
    exporter: 'fastify_perf_cache_breaker_state',
    otlp: 'fastify_perf_cache_breaker_state_ratio',
  },
  {
    instrument: 'fastify_perf.compress.bytes_in',
    exporter: 'fastify_perf_compress_bytes_in_total',
    otlp: 'fastify_perf_compress_bytes_in_total', // `bytes` is already a token of the name
  },
  {
    instrument: 'fastify_perf.compress.bytes_out',
    exporter: 'fastify_perf_compress_bytes_out_total',
    otlp: 'fastify_perf_compress_bytes_out_total',
  },
  {
    instrument: 'fastify_perf.compress.time',
    exporter: 'fastify_perf_compress_time_total',
    otlp: 'fastify_perf_compress_time_seconds_total',
  },
  {
    instrument: 'fastify_perf.eventloop.utilization',
    exporter: 'fastify_perf_eventloop_utilization',
    otlp: 'fastify_perf_eventloop_utilization_ratio',
  },
  ...(['p50', 'p99', 'max'] as const).map((quantile) => ({
    instrument: `fastify_perf.eventloop.delay.${quantile}`,
    exporter: `fastify_perf_eventloop_delay_${quantile}`,
    otlp: `fastify_perf_eventloop_delay_${quantile}_seconds`,
  })),
]

/** The series of one selector: a plain name, or a `__name__=~` regex (anchored, as PromQL's are). */
interface Selector {
  readonly text: string
  matches(name: string): boolean
  /** Label matchers of the selector, other than `__name__`, `job` and `instance`. */
  readonly labels: readonly string[]
}

/** The selectors of a PromQL expression (every one of the dashboard's has a `{…}` part). */
function selectorsOf(expr: string): Selector[] {
  const selectors: Selector[] = []
  for (const [, name, body] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}/g)) {
    const matchers = [...body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)]
    const byName = matchers.find(([, label]) => label === '__name__')
    const labels = matchers
      .map(([, label]) => label!)
      .filter((label) => !['__name__', 'job', 'instance'].includes(label))
    if (name !== undefined) {
      assert.equal(byName, undefined, `${expr}: a name and a __name__ matcher`)
      selectors.push({ text: name, matches: (candidate) => candidate === name, labels })
    } else {
      assert.ok(byName !== undefined && byName[2] === '=~', `${expr}: a selector without a name`)
      const regex = new RegExp(`^(?:${byName[3]})$`)
      selectors.push({
        text: `{__name__=~"${byName[3]}"}`,
        matches: (candidate) => regex.test(candidate),
        labels,
      })
    }
  }
  return selectors
}

/** Labels an expression aggregates by (`sum by (a, b)`), other than `le` and `instance`. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\bby \(([^)]*)\)/g)]
    .flatMap(([, list]) => list!.split(',').map((label) => label.trim()))
    .filter((label) => label !== 'le' && label !== 'instance')
}

/** A sample name's series names under one naming: a histogram's `_bucket`, `_count`, `_sum`. */
function seriesNames(base: string, histogram: boolean | undefined): string[] {
  return histogram ? ['_bucket', '_count', '_sum'].map((suffix) => base + suffix) : [base]
}

test('the OpenTelemetry Grafana dashboard queries only series a scrape of exporter-prometheus contains, under both namings', async (t) => {
  // The SDK's Prometheus reader, its handler served on a port of our own (its default server
  // listens on 9464).
  const exporter = new PrometheusExporter({ preventServerStart: true })
  const meterProvider = new MeterProvider({ readers: [exporter] })
  t.after(() => meterProvider.shutdown())
  const scrapeServer = createServer((req, res) => exporter.getMetricsRequestHandler(req, res))
  await new Promise<void>((resolve) => scrapeServer.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => scrapeServer.close(resolve)))
  const scrapeUrl = `http://127.0.0.1:${(scrapeServer.address() as AddressInfo).port}/metrics`

  const redis = await startRedis()
  t.after(() => redis.stop())
  const store = new RedisStore({ url: redis.url, prefix: testKeyPrefix('dashboard-otel') })
  t.after(() => store.close())
  await store.ready()
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { otel: { meterProvider }, metrics: false })
  await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache, {
    store,
    storeTimeout: '1s',
    breaker: { threshold: 3, duration: '1m' },
    routes: { ttl: '1m' },
  })
  // Compressible and above the compression threshold (1 KB).
  const page = 'Every product of the shop on one long page. '.repeat(100)
  app.get(
    '/page/:id',
    { config: { cache: true } },
    async (req) => `${page}${(req.params as { id: string }).id}`,
  )
  app.get('/data/:id', async (req) => {
    const id = (req.params as { id: string }).id
    return app.cache.getOrSet(`product:${id}`, async () => ({ id }), { ttl: '1m' })
  })
  const base = await listen(app)
  const br = { 'accept-encoding': 'br' }

  // Route cache: a miss (compressed and stored), then hits once the write reached Redis.
  assert.equal((await request(`${base}/page/1`, { headers: br })).headers['content-encoding'], 'br')
  assert.equal((await request(`${base}/data/1`)).status, 200)
  let scrape = new Map<string, Family>()
  const value = (name: string, labels: Record<string, string>) =>
    (scrape.get(name)?.samples ?? [])
      .filter((sample) => Object.entries(labels).every(([label, v]) => sample.labels[label] === v))
      .reduce((sum, sample) => sum + sample.value, 0)
  for (let i = 0; i < 100; i++) {
    await request(`${base}/page/1`, { headers: br })
    await request(`${base}/data/1`)
    scrape = parsePrometheusText((await request(scrapeUrl)).text)
    const routeHits = value('fastify_perf_cache_route_responses_total', { outcome: 'hit' })
    if (routeHits > 0 && value('fastify_perf_cache_lookups_total', { result: 'hit' }) > 0) break
    await sleep(10)
  }
  assert.ok(
    value('fastify_perf_cache_route_responses_total', { http_route: '/page/:id', outcome: 'hit' }) >= 1,
  )
  assert.ok(value('fastify_perf_cache_lookups_total', { http_route: '/data/:id', result: 'hit' }) >= 1)

  // The outage: store errors, and the breaker opens after three of them.
  await redis.stop()
  for (let i = 0; i < 6; i++) assert.equal((await request(`${base}/data/${100 + i}`)).status, 200)
  await sleep(50) // event-loop delay samples (10 ms resolution) for the delay gauges
  const text = (await request(scrapeUrl)).text
  scrape = parsePrometheusText(text)
  assert.ok(value('fastify_perf_cache_store_errors_total', { store: 'redis' }) >= 3)
  assert.equal(value('fastify_perf_cache_breaker_state', { store: 'redis' }), 2)
  assert.ok(value('fastify_perf_compress_bytes_in_total', { encoding: 'br' }) >= page.length)

  // The table's exporter names are what the real exporter wrote, with the type each name implies.
  const sampleNames = new Set([...scrape.values()].flatMap((family) => family.samples.map((s) => s.name)))
  for (const { instrument, exporter: name, histogram } of NAMES) {
    const family = scrape.get(name)
    assert.ok(family !== undefined, `${instrument} is scraped as ${name}`)
    if (histogram) assert.equal(family.type, 'histogram', name)
    else if (name.endsWith('_total')) assert.equal(family.type, 'counter', name)
    else assert.equal(family.type, 'gauge', name)
  }

  assert.equal(dashboard.uid, 'fastify-perf-otel')
  assert.deepEqual(
    dashboard.templating.list.map((v) => v.name),
    ['datasource', 'job', 'instance'],
  )
  // The job and instance variables' label_values() queries (the data source variable's is a type).
  const expressions = dashboard.templating.list.flatMap((v) =>
    typeof v.query === 'object' ? [v.query.query] : [],
  )
  assert.equal(expressions.length, 2)
  for (const panel of dashboard.panels) {
    assert.ok(panel.gridPos, `${panel.title} has a position`)
    if (panel.type === 'row') continue
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has queries`)
    for (const target of panel.targets) {
      assert.equal(target.datasource.uid, `$${'{datasource}'}`)
      expressions.push(target.expr)
    }
  }
  const shown = new Set<string>()
  for (const expr of expressions) {
    const selectors = selectorsOf(expr)
    assert.ok(selectors.length > 0, `${expr}: no selector`)
    const selected: Family[] = []
    for (const selector of selectors) {
      const scraped = [...sampleNames].filter((name) => selector.matches(name))
      assert.ok(scraped.length > 0, `${expr}: ${selector.text} matches no series of the scrape`)
      // The same instrument under the OTLP receiver's naming, and no other instrument.
      const instruments = NAMES.filter((entry) =>
        seriesNames(entry.exporter, entry.histogram).some((name) => selector.matches(name)),
      )
      assert.equal(instruments.length, 1, `${expr}: ${selector.text} selects one instrument`)
      const entry = instruments[0]!
      assert.ok(
        seriesNames(entry.otlp, entry.histogram).some((name) => selector.matches(name)),
        `${expr}: ${selector.text} misses ${entry.otlp}, the OTLP receiver's name of ${entry.instrument}`,
      )
      shown.add(entry.instrument)
      const families = [...scrape.values()].filter((family) =>
        family.samples.some((sample) => selector.matches(sample.name)),
      )
      for (const label of selector.labels) {
        assert.ok(
          families.some((family) => family.samples.some((sample) => label in sample.labels)),
          `${expr}: no ${selector.text} series has the label ${label}`,
        )
      }
      selected.push(...families)
    }
    for (const label of groupingLabels(expr)) {
      assert.ok(
        selected.some((family) => family.samples.some((sample) => label in sample.labels)),
        `${expr}: aggregates by ${label}, which its series do not have`,
      )
    }
  }
  for (const instrument of [
    'http.server.request.duration',
    'http.server.active_requests',
    'fastify_perf.cache.lookups',
    'fastify_perf.cache.route_responses',
    'fastify_perf.cache.store_errors',
    'fastify_perf.cache.breaker_state',
    'fastify_perf.compress.bytes_in',
    'fastify_perf.compress.time',
    'fastify_perf.eventloop.utilization',
    'fastify_perf.eventloop.delay.p99',
  ]) {
    assert.ok(shown.has(instrument), `the dashboard shows ${instrument}`)
  }
  // The description says which namings it reads.
  assert.match(dashboard.description, /exporter-prometheus/)
  assert.match(dashboard.description, /OTLP receiver/)
})
