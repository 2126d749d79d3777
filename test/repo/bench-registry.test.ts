// The benchmark's scenario registry (bench/scenarios/registry.ts) against the modules it names, and
// `raw-hit`, the one scenario that is not a Fastify app, against the `limit` it is read beside.
// Nothing is measured here: `pnpm bench --check` starts scenarios with their services.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { Agent, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import {
  BUNDLE_N,
  BUNDLE_N1,
  BUNDLE_N1_PATH,
  DICTIONARY_REQUEST_HEADERS,
  expectedDictionaryBytes,
  NO_DICTIONARY_REQUEST_HEADERS,
} from '../../bench/scenarios/dictionary-bundle.js'
import { createServer as createLimit } from '../../bench/scenarios/limit.js'
import { PAYLOAD } from '../../bench/scenarios/payload.js'
import { startServer as startRawHit } from '../../bench/scenarios/raw-hit.js'
import { REFERENCE_SCENARIO, scenarios } from '../../bench/scenarios/registry.js'
import { createServer as createStaticDictionary } from '../../bench/scenarios/static-dictionary.js'
import {
  createServer as createFastifyOtel,
  DiscardingSpanExporter,
} from '../../bench/scenarios/timing-fastify-otel.js'
import { createServer as createTimingOtel, DiscardingExporter } from '../../bench/scenarios/timing-otel.js'
import { createServer as createTimingOtelRecord } from '../../bench/scenarios/timing-otel-record.js'
import type { ScenarioModule } from '../../bench/src/scenario.js'

const scenariosDir = join(import.meta.dirname, '..', '..', 'bench', 'scenarios')

test('every registry entry names a unique scenario whose module exports createServer or startServer', async () => {
  assert.equal(scenarios[0]?.name, REFERENCE_SCENARIO)
  const names = scenarios.map((scenario) => scenario.name)
  assert.equal(new Set(names).size, names.length, 'duplicate names')
  for (const scenario of scenarios) {
    assert.match(scenario.name, /^[a-z0-9]+(-[a-z0-9]+)*$/)
    const file = join(scenariosDir, scenario.module)
    assert.ok(existsSync(file), `${scenario.name}: ${scenario.module} does not exist`)
    const module = (await import(pathToFileURL(file).href)) as ScenarioModule
    assert.ok(
      typeof module.createServer === 'function' || typeof module.startServer === 'function',
      `${scenario.name}: ${scenario.module} exports neither createServer nor startServer`,
    )
  }
})

test('the issue 18 scenarios are registered: memcached-*-keys as peers, raw-hit as a reference', () => {
  const byName = new Map(scenarios.map((scenario) => [scenario.name, scenario]))
  assert.equal(byName.get('memcached-raw-keys')?.peerOf, 'memcached-hit-keys')
  assert.equal(byName.get('memcached-hit-keys')?.peerOf, 'memcached-hit-keys')
  assert.deepEqual(byName.get('memcached-hit-keys')?.services, ['memcached'])
  const rawHit = byName.get('raw-hit')
  assert.ok(rawHit)
  assert.equal(rawHit.peerOf, undefined)
  assert.equal(rawHit.services, undefined)
})

test('the issue 19 scenarios are registered beside timing-overhead and timing-fastify-metrics', () => {
  const byName = new Map(scenarios.map((scenario) => [scenario.name, scenario]))
  for (const name of [
    'timing-overhead',
    'timing-fastify-metrics',
    'timing-otel',
    'timing-otel-record',
    'timing-fastify-otel',
  ]) {
    assert.equal(byName.get(name)?.peerOf, 'timing', name)
  }
})

for (const [name, createServer, path, recorded] of [
  ['timing-otel', createTimingOtel, 'the metric producer', false],
  ['timing-otel-record', createTimingOtelRecord, 'Histogram.record()', true],
] as const) {
  test(`${name} exports the request duration through ${path}, Prometheus off`, async (t) => {
    const app = await createServer({ services: {} })
    await app.listen({ host: '127.0.0.1', port: 0 })
    let closed = false
    t.after(() => (closed ? undefined : app.close()))
    const port = (app.server.address() as AddressInfo).port
    for (let i = 0; i < 3; i++) {
      const answer = await get(port, '/')
      assert.equal(answer.body.toString(), PAYLOAD)
      assert.match(String(answer.headers['server-timing']), /^total;dur=/)
    }
    assert.equal((await get(port, '/metrics')).status, 404, 'no Prometheus route')
    DiscardingExporter.last = null
    await app.close() // the provider's shutdown collects and exports once more
    closed = true
    // Read through a function: TypeScript would keep the `null` assigned above.
    const lastExport = () => DiscardingExporter.last
    const metrics = lastExport()?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []
    const durations = metrics.filter((metric) => metric.descriptor.name === 'http.server.request.duration')
    assert.equal(durations.length, 1, 'http.server.request.duration was exported, once')
    const counts = durations[0]!.dataPoints.map((point) => (point.value as { count: number }).count)
    // The three requests and the 404 of /metrics.
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      4,
    )
    // Told apart by the descriptor: the SDK's own is its instrument's (with `type`); the producer's
    // has the four fields of MetricDescriptor only.
    assert.equal((durations[0]!.descriptor as { type?: string }).type, recorded ? 'HISTOGRAM' : undefined)
  })
}

test('timing-fastify-otel exports a request span and its handler span per request', async (t) => {
  const app = await createFastifyOtel({ services: {} })
  await app.listen({ host: '127.0.0.1', port: 0 })
  let closed = false
  t.after(() => (closed ? undefined : app.close()))
  const port = (app.server.address() as AddressInfo).port
  for (let i = 0; i < 2; i++) {
    const answer = await get(port, '/')
    assert.equal(answer.body.toString(), PAYLOAD)
    assert.equal(answer.headers['server-timing'], undefined, 'no timing plugin')
  }
  DiscardingSpanExporter.last = []
  await app.close() // the provider's shutdown flushes the batch
  closed = true
  const spans = DiscardingSpanExporter.last
  const requests = spans.filter((span) => span.name === 'request')
  assert.equal(requests.length, 2)
  for (const request of requests) {
    const handler = spans.find((span) => span.parentSpanContext?.spanId === request.spanContext().spanId)
    assert.equal(handler?.name, 'handler - bareRoute', 'the handler span is a child of the request span')
  }
})

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

function get(port: number, path: string, headers: Readonly<Record<string, string>> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Keep-alive, as the load generators connect: the server then sends its Keep-Alive header.
    const agent = new Agent({ keepAlive: true })
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        agent.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

test('raw-hit answers the payload with the headers limit sends, over a real socket', async (t) => {
  const limit = await createLimit({ services: {} })
  await limit.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => limit.close())
  const rawHit = await startRawHit({ services: {} })
  t.after(() => rawHit.close())
  const expected = await get((limit.server.address() as AddressInfo).port, '/')
  const answer = await get(rawHit.port, '/')
  assert.equal(answer.status, 200)
  assert.equal(answer.body.toString(), PAYLOAD)
  assert.deepEqual(answer.body, expected.body)
  assert.equal(expected.headers['keep-alive'], 'timeout=72')
  for (const header of ['content-type', 'content-length', 'connection', 'keep-alive']) {
    assert.equal(answer.headers[header], expected.headers[header], header)
  }
  assert.deepEqual(
    Object.keys(answer.headers).sort(),
    Object.keys(expected.headers).sort(),
    'raw-hit sends other headers than limit',
  )
  // Looked up by URL: anything else is not stored.
  const miss = await get(rawHit.port, '/other')
  assert.equal(miss.status, 404)
  assert.equal(miss.body.length, 0)
  // Its CPU is this process's, as the harness reads a Fastify scenario's.
  const cpu = rawHit.cpuUsage()
  assert.ok(cpu.user > 0 && rawHit.rssBytes() > 0)
})

test('issue 20: static-dictionary sends version N+1 of a 200 KB+ bundle at least 10 times smaller than br', async (t) => {
  const byName = new Map(scenarios.map((scenario) => [scenario.name, scenario]))
  assert.equal(byName.get('static-dictionary')?.peerOf, 'static-dictionary')
  assert.equal(byName.get('static-dictionary-br')?.peerOf, 'static-dictionary')
  // A realistic deploy: both versions over 200 KB, a few hundred bytes apart, not the same file.
  assert.ok(BUNDLE_N.length > 200 * 1024 && BUNDLE_N1.length > 200 * 1024)
  assert.ok(!BUNDLE_N.equals(BUNDLE_N1))
  assert.ok(Math.abs(BUNDLE_N1.length - BUNDLE_N.length) < 2000)
  const expected = expectedDictionaryBytes()
  assert.ok(
    expected.dcz * 10 <= expected.br,
    `dcz ${expected.dcz} bytes, br ${expected.br}: the issue's target`,
  )

  const app = await createStaticDictionary({ services: {} })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  for (const [headers, encoding, bytes] of [
    [DICTIONARY_REQUEST_HEADERS, 'dcz', expected.dcz],
    [NO_DICTIONARY_REQUEST_HEADERS, 'br', expected.br],
  ] as const) {
    const answer = await get(port, BUNDLE_N1_PATH, headers)
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['content-encoding'], encoding)
    assert.equal(answer.body.length, bytes, encoding)
  }
})
