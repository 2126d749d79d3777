import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming from '@fastify-perf/timing'
import { parsePrometheusText } from './support/prometheus-text.js'

// docs/grafana/fastify-perf.json must stay importable and only query series the plugin exposes.
const dashboard = JSON.parse(
  readFileSync(new URL('../../../docs/grafana/fastify-perf.json', import.meta.url), 'utf8'),
) as {
  uid: string
  templating: { list: { name: string }[] }
  panels: {
    type: string
    title: string
    gridPos: object
    targets?: { expr: string; datasource: { uid: string } }[]
  }[]
}

test('the Grafana dashboard queries only series a scrape contains', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming)
  app.get('/', async (_request, reply) => {
    const event = { store: 'memory', namespace: 'cache', key: 'k' }
    diagnostics.channel('fastify-perf:cache:hit').publish(event)
    diagnostics.channel('fastify-perf:cache:route').publish({ route: 'GET /', outcome: 'hit' })
    diagnostics
      .channel('fastify-perf:cache:store-error')
      .publish({ store: 'memory', operation: 'get', error: null })
    diagnostics.channel('fastify-perf:cache:breaker').publish({ store: 'memory', state: 'closed' })
    diagnostics
      .channel('fastify-perf:compress:encoded')
      .publish({ encoding: 'gzip', bytesIn: 10, bytesOut: 5, durationMs: 1, reply })
    return 'ok'
  })
  const base = await listen(app)
  await request(`${base}/`)
  const families = parsePrometheusText((await request(`${base}/metrics`)).text)

  assert.equal(dashboard.uid, 'fastify-perf')
  assert.deepEqual(
    dashboard.templating.list.map((v) => v.name),
    ['datasource', 'job', 'instance'],
  )
  const queried = new Set<string>()
  for (const panel of dashboard.panels) {
    assert.ok(panel.gridPos, `${panel.title} has a position`)
    if (panel.type === 'row') continue
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has queries`)
    for (const target of panel.targets) {
      // Grafana's variable syntax, not a template literal: the data source picked at import.
      assert.equal(target.datasource.uid, `$${'{datasource}'}`)
      for (const [name] of target.expr.matchAll(/\b(?:http|fastify_perf|nodejs|process)_[a-z0-9_]+\b/g)) {
        queried.add(name.replace(/_(bucket|count|sum)$/, ''))
      }
    }
  }
  for (const name of queried)
    assert.ok(families.has(name), `the dashboard queries ${name}, which no scrape has`)
  for (const name of [
    'http_request_duration_seconds',
    'fastify_perf_cache_lookups_total',
    'fastify_perf_compress_bytes_in_total',
  ]) {
    assert.ok(queried.has(name), `the dashboard shows ${name}`)
  }
})
