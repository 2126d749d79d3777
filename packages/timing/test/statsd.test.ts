import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import diagnostics from 'node:diagnostics_channel'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { type StatsdClient } from '@fastify-perf/timing'
import { parsePrometheusText, seriesValue } from './support/prometheus-text.js'

// A real StatsD listener: a UDP socket on loopback, recording every metric line it receives.
interface Line {
  name: string
  value: number
  type: string
  tags: Record<string, string>
}

async function statsdServer(t: TestContext): Promise<{ port: number; lines: Line[]; packets: () => number }> {
  const socket = dgram.createSocket('udp4')
  const lines: Line[] = []
  let packets = 0
  socket.on('message', (message) => {
    packets++
    for (const raw of message.toString('utf8').split('\n')) {
      if (raw === '') continue
      // name:value|type[|@rate][|#tag:value,tag:value]
      const match = /^([^:]+):([^|]+)\|([a-z]+)(?:\|@[\d.]+)?(?:\|#(.*))?$/.exec(raw)
      assert.ok(match, `malformed StatsD line ${JSON.stringify(raw)}`)
      const tags: Record<string, string> = {}
      for (const tag of match[4]?.split(',') ?? []) {
        const colon = tag.indexOf(':')
        tags[tag.slice(0, colon)] = tag.slice(colon + 1)
      }
      lines.push({ name: match[1]!, value: Number(match[2]), type: match[3]!, tags })
    }
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return { port: (socket.address() as AddressInfo).port, lines, packets: () => packets }
}

function sum(lines: Line[], name: string, tags: Record<string, string> = {}): number {
  return lines
    .filter((line) => line.name === name && Object.entries(tags).every(([k, v]) => line.tags[k] === v))
    .reduce((total, line) => total + (line.type === 'c' ? line.value : 1), 0)
}

test('StatsD packets received on a real UDP socket match the Prometheus counts', async (t) => {
  const server = await statsdServer(t)
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    metrics: { defaultMetrics: false },
    statsd: { host: '127.0.0.1', port: server.port, prefix: 'shop', globalTags: { env: 'test' } },
  })
  const hit = diagnostics.channel('fastify-perf:cache:hit')
  const miss = diagnostics.channel('fastify-perf:cache:miss')
  app.get('/products/:id', async (req) => {
    const id = Number((req.params as { id: string }).id)
    ;(id % 3 === 0 ? miss : hit).publish({ store: 'memory', namespace: 'catalog', key: `p${id}` })
    return { id }
  })
  app.post('/orders', async (_req, reply) => reply.code(201).send({ ok: true }))
  const base = await listen(app)
  for (let i = 0; i < 30; i++) await request(`${base}/products/${i}`)
  for (let i = 0; i < 7; i++) await request(`${base}/orders`, { method: 'POST' })
  for (let i = 0; i < 5; i++) await request(`${base}/missing/${i}`)

  const families = parsePrometheusText((await request(`${base}/metrics`)).text)
  await app.close()
  await sleep(100)

  // Batched into packets, as configured by default (maxBufferSize 1400): far fewer packets than metrics.
  assert.ok(server.packets() < 20, `${server.packets()} packets for ${server.lines.length} metrics`)
  for (const line of server.lines) {
    assert.ok(line.name.startsWith('shop.'), `prefix on ${line.name}`)
    assert.equal(line.tags.env, 'test', 'global tags on every metric')
  }
  const durations = server.lines.filter((line) => line.name === 'shop.http.request.duration')
  assert.ok(durations.every((line) => line.type === 'ms' && line.value >= 0))
  for (const [route, method, status] of [
    ['/products/:id', 'GET', '200'],
    ['/orders', 'POST', '201'],
    ['__unmatched__', 'GET', '404'],
  ] as const) {
    const prometheus = seriesValue(families, 'http_request_duration_seconds_count', {
      route,
      method,
      status_code: status,
    })
    const statsd = sum(server.lines, 'shop.http.request.duration', { route, method, status_code: status })
    assert.ok(prometheus > 0)
    assert.equal(statsd, prometheus, `${method} ${route} ${status}`)
  }
  for (const result of ['hit', 'miss']) {
    const labels = { route: '/products/:id', store: 'memory', namespace: 'catalog', result }
    const prometheus = seriesValue(families, 'fastify_perf_cache_lookups_total', labels)
    assert.equal(sum(server.lines, 'shop.cache.lookups', labels), prometheus)
  }
  assert.equal(sum(server.lines, 'shop.cache.lookups', { result: 'miss' }), 10)
  // Gauges are sent when the app closes (and every gaugeInterval before).
  const inFlight = server.lines.filter((line) => line.name === 'shop.http.requests.in_flight')
  assert.ok(inFlight.length >= 1)
  assert.equal(inFlight.at(-1)!.value, 0)
  assert.ok(server.lines.some((line) => line.name === 'shop.eventloop.utilization' && line.type === 'g'))
})

test('statsd.client: a client you pass is used and never closed by the plugin', async (t) => {
  const calls: string[] = []
  let closed = false
  const client: StatsdClient = {
    timing: (name, value, tags) => calls.push(`${name}|${typeof value}|${tags?.join(',')}`),
    increment: (name) => calls.push(name),
    gauge: (name) => calls.push(name),
    close: () => {
      closed = true
    },
  }
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { metrics: false, statsd: { client } })
  app.get('/', async () => 'ok')
  assert.equal(app.timing.statsd, client)
  await app.inject('/')
  await app.close()
  assert.ok(
    calls.includes('http.request.duration|number|method:GET,route:/,status_code:200'),
    calls.join('\n'),
  )
  assert.equal(closed, false)
})
