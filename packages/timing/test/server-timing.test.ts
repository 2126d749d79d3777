import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, {
  FST_PERF_TIMING_INVALID_ENTRY,
  toQuotedString,
  toToken,
} from '@fastify-perf/timing'
import type { FastifyInstance } from 'fastify'
import { parseServerTiming, type ServerTimingMetric } from './support/server-timing-parse.js'

// Over a real socket: what a browser receives. `metrics: false` keeps these apps to the header.
const exposeAll = { expose: () => true }

function byName(metrics: ServerTimingMetric[], name: string): ServerTimingMetric {
  const metric = metrics.find((m) => m.name === name)
  assert.ok(metric, `no ${name} in ${JSON.stringify(metrics)}`)
  return metric
}

function header(response: { headers: Record<string, string | string[]> }): string {
  const value = response.headers['server-timing']
  assert.equal(typeof value, 'string', 'one Server-Timing header')
  return value as string
}

test('an exposed response carries a well-formed Server-Timing with total and handler', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/items/:id', async () => {
    await sleep(5)
    return { ok: true }
  })
  const base = await listen(app)
  const response = await request(`${base}/items/1`)
  assert.equal(response.status, 200)
  const metrics = parseServerTiming(header(response))
  assert.deepEqual(
    metrics.map((m) => m.name),
    ['total', 'handler'],
  )
  const total = byName(metrics, 'total').dur!
  const handler = byName(metrics, 'handler').dur!
  assert.ok(handler >= 4, `handler ${handler} ms covers the 5 ms sleep`)
  assert.ok(total >= handler, `total ${total} >= handler ${handler}`)
  assert.equal(response.headers['timing-allow-origin'], undefined, 'no Timing-Allow-Origin unless configured')
  // The handler was wrapped in onRoute: Fastify's tracing channel was not needed.
  assert.equal(diagnostics.channel('tracing:fastify.request.handler:start').hasSubscribers, false)
})

test('not exposed: no Server-Timing, no Timing-Allow-Origin (the production default)', async (t) => {
  const previous = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.after(() => {
    process.env.NODE_ENV = previous
  })
  const app = buildApp(t)
  // The default `expose` reads NODE_ENV once, at registration.
  await app.register(fastifyPerfTiming, { serverTiming: { timingAllowOrigin: '*' }, metrics: false })
  app.get('/', async (_request, reply) => {
    reply.timing.add('db', 3)
    return 'ok'
  })
  const base = await listen(app)
  const response = await request(`${base}/`)
  assert.equal(response.status, 200)
  assert.equal(response.headers['server-timing'], undefined)
  assert.equal(response.headers['timing-allow-origin'], undefined)
})

test('NODE_ENV=development exposes by default; expose(request) decides per request', async (t) => {
  const previous = process.env.NODE_ENV
  process.env.NODE_ENV = 'development'
  t.after(() => {
    process.env.NODE_ENV = previous
  })
  const dev = buildApp(t)
  await dev.register(fastifyPerfTiming, { metrics: false })
  dev.get('/', async () => 'ok')
  const devBase = await listen(dev)
  assert.match(header(await request(`${devBase}/`)), /^total;dur=/)

  const gated = buildApp(t)
  await gated.register(fastifyPerfTiming, {
    metrics: false,
    serverTiming: { expose: (req) => req.headers['x-timing-token'] === 'secret' },
  })
  gated.get('/', async () => 'ok')
  const base = await listen(gated)
  assert.equal((await request(`${base}/`)).headers['server-timing'], undefined)
  assert.equal(
    (await request(`${base}/`, { headers: { 'x-timing-token': 'wrong' } })).headers['server-timing'],
    undefined,
  )
  assert.match(header(await request(`${base}/`, { headers: { 'x-timing-token': 'secret' } })), /^total;dur=/)
})

test('Timing-Allow-Origin is sent with Server-Timing only when configured', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, {
    metrics: false,
    serverTiming: {
      expose: (req) => req.url !== '/hidden',
      timingAllowOrigin: ['https://app.example.com', 'https://admin.example.com'],
    },
  })
  app.get('/', async () => 'ok')
  app.get('/hidden', async () => 'ok')
  const base = await listen(app)
  const shown = await request(`${base}/`)
  assert.equal(shown.headers['timing-allow-origin'], 'https://app.example.com, https://admin.example.com')
  const hidden = await request(`${base}/hidden`)
  assert.equal(hidden.headers['timing-allow-origin'], undefined)
  assert.equal(hidden.headers['server-timing'], undefined)
})

test('reply.timing: start/end, measure (sync, async, throwing) and add, in order, escaped per the spec', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/', async (_request, reply) => {
    reply.timing.start('db', 'users query')
    await sleep(3)
    const dbMs = reply.timing.end('db')
    assert.ok(dbMs !== undefined && dbMs >= 2)
    assert.equal(reply.timing.end('never-started'), undefined)
    const sum = reply.timing.measure('sync', () => 1 + 1)
    assert.equal(sum, 2)
    const value = await reply.timing.measure('async', async () => {
      await sleep(2)
      return 'value'
    })
    assert.equal(value, 'value')
    await assert.rejects(
      reply.timing.measure('rejects', async () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.throws(
      () =>
        reply.timing.measure('throws', () => {
          throw new Error('sync boom')
        }),
      /sync boom/,
    )
    reply.timing.add('upstream', 12.3456, 'said "hi" \\ back\r\nInjected: header')
    reply.timing.add('bad name;dur=1,x', 1, 'café ✓')
    reply.timing.start('left-open')
    return 'ok'
  })
  const base = await listen(app)
  const metrics = parseServerTiming(header(await request(`${base}/`)))
  assert.deepEqual(
    metrics.map((m) => m.name),
    [
      'total',
      'handler',
      'db',
      'sync',
      'async',
      'rejects',
      'throws',
      'upstream',
      'bad_name_dur_1_x',
      'left-open',
    ],
  )
  assert.equal(byName(metrics, 'db').desc, 'users query')
  assert.ok(byName(metrics, 'db').dur! >= 2)
  assert.ok(byName(metrics, 'async').dur! >= 1)
  assert.equal(byName(metrics, 'upstream').dur, 12.346)
  // The quotes and backslash survive as quoted-pairs; CR and LF cannot be in a header at all.
  assert.equal(byName(metrics, 'upstream').desc, 'said "hi" \\ back??Injected: header')
  assert.equal(byName(metrics, 'bad_name_dur_1_x').desc, 'caf? ?')
  assert.ok(byName(metrics, 'left-open').dur! >= 0, 'a timer still open is ended with the response')
})

/** A Fastify logger writing its JSON lines into `lines`. */
function captureLogs(lines: Record<string, unknown>[]) {
  return {
    level: 'warn',
    stream: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  }
}

// Issue 17: `reply.timing.add('ok', -3)` used to throw FST_PERF_TIMING_INVALID_ENTRY into the
// handler, a 500 for the user's request. Bad timing calls are dropped with a rate-limited warning.
test('reply.timing.add with a negative duration drops the entry and never fails the request', async (t) => {
  const lines: Record<string, unknown>[] = []
  const app = buildApp(t, { logger: captureLogs(lines) })
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/', async (_request, reply) => {
    reply.timing.add('ok', -3)
    reply.timing.add('fine', 2)
    return 'ok'
  })
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, 'ok')
  const names = parseServerTiming(header(response as never)).map((m) => m.name)
  assert.ok(names.includes('fine'))
  assert.ok(!names.includes('ok'), 'the bad entry is dropped')
  const warnings = lines.filter((line) => String(line.msg).includes('reply.timing'))
  assert.equal(warnings.length, 1)
  assert.equal(warnings[0]!.level, 40)
  assert.match(
    String(warnings[0]!.msg),
    /dropped reply\.timing\.add\("ok", -3\): durationMs must be a finite number >= 0/,
  )
  assert.equal((warnings[0]!.err as { code?: string }).code, 'FST_PERF_TIMING_INVALID_ENTRY')
})

test('bad reply.timing arguments are all dropped, with one warning per interval', async (t) => {
  const lines: Record<string, unknown>[] = []
  const app = buildApp(t, { logger: captureLogs(lines) })
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  const results: unknown[] = []
  app.get('/', async (_request, reply) => {
    reply.timing.start('')
    reply.timing.start(42 as never)
    reply.timing.start('t', 5 as never)
    reply.timing.add('x', -1)
    reply.timing.add('x', Number.NaN)
    reply.timing.add('x', Number.POSITIVE_INFINITY)
    reply.timing.add('x', '3' as never)
    reply.timing.add('x', 1, 5 as never)
    reply.timing.add(null as never, 1)
    // A bad name: `fn` still runs, without an entry. Not a function: returned as it is.
    results.push(reply.timing.measure('', () => 'ran'))
    results.push(await reply.timing.measure('db', Promise.resolve('awaited') as never))
    reply.timing.add('good', 1)
    return 'ok'
  })
  for (let i = 0; i < 3; i++) {
    const response = await app.inject('/')
    assert.equal(response.statusCode, 200)
    const names = parseServerTiming(header(response as never)).map((m) => m.name)
    assert.deepEqual(
      names.filter((name) => !['total', 'handler'].includes(name)),
      ['good'],
    )
  }
  assert.deepEqual(results.slice(0, 2), ['ran', 'awaited'])
  const warnings = lines.filter((line) => String(line.msg).includes('reply.timing'))
  assert.equal(warnings.length, 1, 'one warning for 33 dropped calls within 10 s')
  assert.match(
    String(warnings[0]!.msg),
    /dropped reply\.timing\.start\(""\): the name must be a non-empty string/,
  )
})

test('the dropped-call warning comes again after the interval, with the count of the others', async (t) => {
  const { DroppedTimings } = await import('../src/server-timing.js')
  const warnings: [Record<string, unknown>, string][] = []
  const request = {
    log: { warn: (object: Record<string, unknown>, msg: string) => warnings.push([object, msg]) },
  }
  const dropped = new DroppedTimings(20)
  dropped.drop(request as never, 'add("a", -1)', 'negative')
  dropped.drop(request as never, 'add("b", -1)', 'negative')
  dropped.drop(request as never, 'add("c", -1)', 'negative')
  assert.equal(warnings.length, 1)
  await sleep(30)
  dropped.drop(request as never, 'add("d", -1)', 'negative')
  assert.equal(warnings.length, 2)
  assert.match(warnings[1]![1], /add\("d", -1\): negative \(2 more dropped since the last warning\)/)
  assert.equal(warnings[1]![0].droppedSinceLastWarning, 2)
  assert.ok(warnings[1]![0].err instanceof FST_PERF_TIMING_INVALID_ENTRY)
  t.diagnostic('rate limit checked with a 20 ms interval')
})

test('the automatic phases never add up to more than total', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  const hit = diagnostics.channel('fastify-perf:cache:hit')
  const encoded = diagnostics.channel('fastify-perf:compress:encoded')
  app.get('/work', async (_request, reply) => {
    // A cache lookup reporting its duration, inside the handler.
    hit.publish({ key: 'k', store: 'memory', namespace: 'cache', reply, durationMs: 0.5 })
    await sleep(2)
    return 'x'.repeat(1000)
  })
  // A compression step in an onSend hook registered after the plugin, reporting its time.
  app.addHook('onSend', async (_request, reply, payload) => {
    const started = performance.now()
    while (performance.now() - started < 1) {
      // busy, like zlib would be
    }
    encoded.publish({
      encoding: 'br',
      bytesIn: 1000,
      bytesOut: 20,
      durationMs: performance.now() - started,
      reply,
    })
    return payload
  })
  const base = await listen(app)
  for (let i = 0; i < 30; i++) {
    const metrics = parseServerTiming(header(await request(`${base}/work`)))
    const total = byName(metrics, 'total').dur!
    const phases = ['handler', 'cache', 'compress'].map((name) => byName(metrics, name).dur!)
    const sum = phases.reduce((a, b) => a + b, 0)
    assert.ok(sum <= total, `phases ${phases.join(' + ')} = ${sum} > total ${total}`)
    assert.equal(byName(metrics, 'cache').desc, 'hit')
    assert.equal(byName(metrics, 'compress').desc, 'br')
    assert.ok(
      byName(metrics, 'compress').dur! >= 0.9,
      'the late compression rewrote the header with its time',
    )
  }
})

test('cache events seen while the handler runs become a cache phase with hit/miss as description', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false, asyncContext: false })
  const hit = diagnostics.channel('fastify-perf:cache:hit')
  const miss = diagnostics.channel('fastify-perf:cache:miss')
  // No `reply` in these payloads: like @fastify-perf/cache's data cache, which does not know the request.
  app.get('/one', async () => {
    hit.publish({ key: 'a', store: 'memory', namespace: 'cache' })
    return 'ok'
  })
  app.get('/several', (_request, reply) => {
    hit.publish({ key: 'a', store: 'memory', namespace: 'cache' })
    hit.publish({ key: 'b', store: 'memory', namespace: 'cache' })
    miss.publish({ key: 'c', store: 'memory', namespace: 'cache' })
    reply.send('ok')
  })
  app.get('/after-await', async () => {
    await sleep(1)
    // After an await, without asyncContext, the event cannot be tied to this request.
    hit.publish({ key: 'a', store: 'redis', namespace: 'cache' })
    return 'ok'
  })
  const base = await listen(app)
  assert.equal(byName(parseServerTiming(header(await request(`${base}/one`))), 'cache').desc, 'hit')
  assert.equal(
    byName(parseServerTiming(header(await request(`${base}/several`))), 'cache').desc,
    'hit=2 miss=1',
  )
  const late = parseServerTiming(header(await request(`${base}/after-await`)))
  assert.equal(
    late.find((m) => m.name === 'cache'),
    undefined,
  )
})

test('asyncContext: true attributes events published after an await', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false, asyncContext: true })
  const stale = diagnostics.channel('fastify-perf:cache:stale')
  app.get('/', async () => {
    await sleep(1)
    stale.publish({ key: 'a', store: 'redis', namespace: 'cache', reason: 'revalidate' })
    return 'ok'
  })
  const base = await listen(app)
  assert.equal(byName(parseServerTiming(header(await request(`${base}/`))), 'cache').desc, 'stale')
})

test('a route with config.timing false gets no header; unknown URLs get total only', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/health', { config: { timing: false } }, async () => 'ok')
  const base = await listen(app)
  assert.equal((await request(`${base}/health`)).headers['server-timing'], undefined)
  const notFound = await request(`${base}/no/such/page`)
  assert.equal(notFound.status, 404)
  assert.deepEqual(
    parseServerTiming(header(notFound)).map((m) => m.name),
    ['total'],
  )
})

test('total starts before onRequest hooks registered ahead of the plugin, which may answer alone', async (t) => {
  const app = buildApp(t)
  // Like a route-cache hit served in onRequest by a plugin registered before timing.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/cached') {
      // At least 3 ms of real time: a timer counts from the event loop's cached clock, which a
      // busy loop leaves behind, so `sleep(3)` alone may end sooner than 3 ms after this line.
      const start = performance.now()
      while (performance.now() - start < 3) await sleep(1)
      return reply.send('from cache')
    }
  })
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/cached', async () => 'from handler')
  const base = await listen(app)
  const response = await request(`${base}/cached`)
  assert.equal(response.text, 'from cache')
  const metrics = parseServerTiming(header(response))
  assert.ok(byName(metrics, 'total').dur! >= 2.5, 'total includes the earlier hook')
  assert.equal(
    metrics.find((m) => m.name === 'handler'),
    undefined,
  )
})

/**
 * Like @fastify-perf/cache's route cache registered before timing: `/cached` answered by a
 * synchronous hit in onRequest, after `busyMs` of work, its event published without the request
 * (Fastify is still inside the server's request event).
 */
function answerCachedInOnRequest(app: FastifyInstance, busyMs: number): void {
  const routeChannel = diagnostics.channel('fastify-perf:cache:route')
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url !== '/cached') return done()
    routeChannel.publish({ route: 'GET /cached', outcome: 'hit' })
    const until = performance.now() + busyMs
    while (performance.now() < until) {}
    reply.send('from cache')
  })
}

// The plugin's `request` listener takes the place of Fastify's and calls it (arrival.ts). On a
// server Fastify created, on a serverFactory's server with another listener beside Fastify's, and
// on one that calls Fastify from a listener of its own (the plugin then falls back to a listener
// before and one after the others), every arrival must be timed and events published before
// Fastify knows the request attributed. (An earlier try of the wrapping listener was reverted on
// 2026-11-22 for a POST lost now and then in the rolling-restart test of
// test/integration/deployment.test.ts; the cause, found twenty minutes later, was the example's
// shutdown order: examples/cluster/src/app.ts `drainBeforeClose`, commit 4fb9ccc.)
const KINDS = [
  'Fastify-created server',
  'serverFactory with another request listener',
  'serverFactory calling Fastify from its own listener',
] as const
for (const kind of KINDS) {
  test(`arrival timing and early cache events on a ${kind}`, async (t) => {
    const seen: string[] = []
    const app = buildApp(
      t,
      kind === 'Fastify-created server'
        ? {}
        : {
            serverFactory: (handler) => {
              const server = createServer()
              server.on('request', (message) => seen.push(message.url ?? ''))
              if (kind === 'serverFactory with another request listener') server.on('request', handler)
              else server.on('request', (message, response) => handler(message, response))
              return server
            },
          },
    )
    answerCachedInOnRequest(app, 3)
    await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
    app.get('/cached', async () => 'from handler')
    const base = await listen(app)
    for (let i = 0; i < 2; i++) {
      const response = await request(`${base}/cached`)
      assert.equal(response.text, 'from cache')
      const metrics = parseServerTiming(header(response))
      assert.deepEqual(
        metrics.map((m) => [m.name, m.desc]),
        [
          ['total', undefined],
          ['cache', 'hit'],
        ],
      )
      assert.ok(byName(metrics, 'total').dur! >= 2.5, 'total includes the earlier hook')
    }
    const listeners = app.server.listeners('request').length
    // In Fastify's place (1 or 2 with the factory's own), or before and after the others (2 + 2).
    assert.equal(listeners, kind === 'Fastify-created server' ? 1 : kind.includes('another') ? 2 : 4)
    if (kind !== 'Fastify-created server') assert.deepEqual(seen, ['/cached', '/cached'])
    // Closed, the app gives Fastify's listener its place back.
    await app.close()
    assert.equal(app.server.listeners('request').length, kind.includes('own') ? 2 : listeners)
    if (kind !== 'serverFactory calling Fastify from its own listener') {
      assert.ok(app.server.listeners('request').includes(app.routing))
    }
  })
}

test('toToken and toQuotedString follow RFC 9110 token and quoted-string', () => {
  assert.equal(toToken('db'), 'db')
  assert.equal(toToken("a!#$%&'*+-.^_`|~Z9"), "a!#$%&'*+-.^_`|~Z9")
  assert.equal(toToken('db query'), 'db_query')
  assert.equal(toToken('a,b;c="d"'), 'a_b_c__d_')
  assert.equal(toToken(''), '_')
  assert.equal(toQuotedString('plain text'), '"plain text"')
  assert.equal(toQuotedString('a "b" \\c'), '"a \\"b\\" \\\\c"')
  assert.equal(toQuotedString('tab\tok'), '"tab\tok"')
  assert.equal(toQuotedString('new\nline\u0000\u007f'), '"new?line??"')
  assert.equal(toQuotedString('日本'), '"??"')
})

test('a route declared before the plugin loaded gets its handler phase from Fastify tracing channel', async (t) => {
  const app = buildApp(t)
  // Not awaited: the route below is declared before the plugin's onRoute hook exists.
  app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: { defaultMetrics: false } })
  app.get('/early', async () => {
    await sleep(3)
    return 'ok'
  })
  const base = await listen(app)
  const tracing = diagnostics.channel('tracing:fastify.request.handler:start')
  // A scrape of the metrics route (declared by the plugin, timing: false) does not need it.
  await request(`${base}/metrics`)
  assert.equal(tracing.hasSubscribers, false)
  // The first response of such a route turns the tracing channel on; later ones have the phase.
  await request(`${base}/early`)
  assert.equal(tracing.hasSubscribers, true)
  const metrics = parseServerTiming(header(await request(`${base}/early`)))
  assert.ok(byName(metrics, 'handler').dur! >= 2, JSON.stringify(metrics))
  assert.ok(byName(metrics, 'total').dur! >= byName(metrics, 'handler').dur!)
})

test('durations are milliseconds with exactly three decimals', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/', async (_request, reply) => {
    for (const [name, ms] of [
      ['zero', 0],
      ['tiny', 0.004],
      ['tenths', 0.05],
      ['round', 7],
      ['big', 1234.5],
      ['rounded', 2.0004999],
    ] as const) {
      reply.timing.add(name, ms)
    }
    return 'ok'
  })
  const base = await listen(app)
  const value = header(await request(`${base}/`))
  for (const [, dur] of value.matchAll(/dur=([^;,]+)/g)) assert.match(dur!, /^\d+\.\d{3}$/)
  const metrics = parseServerTiming(value)
  assert.deepEqual(
    ['zero', 'tiny', 'tenths', 'round', 'big', 'rounded'].map((name) => byName(metrics, name).params.dur),
    ['0.000', '0.004', '0.050', '7.000', '1234.500', '2.000'],
  )
})

test('a Server-Timing replayed by a cache is withheld from clients expose refuses, and replaced for the others', async (t) => {
  const app = buildApp(t)
  let stored: string | undefined
  // A response cache registered first that stores response headers and replays them on hits.
  app.addHook('onRequest', async (_request, reply) => {
    if (stored !== undefined) {
      reply.header('server-timing', stored).header('timing-allow-origin', '*')
      return reply.send('from cache')
    }
  })
  app.addHook('onResponse', async (_request, reply) => {
    stored ??= reply.getHeader('server-timing') as string | undefined
  })
  await app.register(fastifyPerfTiming, {
    metrics: false,
    serverTiming: { expose: (request) => request.headers['x-debug'] === '1' },
  })
  app.get('/page', async () => {
    await sleep(5)
    return 'fresh'
  })
  const base = await listen(app)
  const first = await request(`${base}/page`, { headers: { 'x-debug': '1' } })
  assert.match(header(first), /handler;dur=/)
  assert.ok(stored)
  const anonymous = await request(`${base}/page`)
  assert.equal(anonymous.text, 'from cache')
  assert.equal(
    anonymous.headers['server-timing'],
    undefined,
    'the debug timings do not leak through the cache',
  )
  assert.equal(anonymous.headers['timing-allow-origin'], undefined)
  const debug = await request(`${base}/page`, { headers: { 'x-debug': '1' } })
  assert.equal(debug.text, 'from cache')
  assert.notEqual(header(debug), stored, 'a fresh header, not the stored one')
  assert.doesNotMatch(header(debug), /handler/, 'the hit ran no handler')
})

test('a route-cache hit answered in an onRequest hook registered first shows as the cache phase', async (t) => {
  const app = buildApp(t)
  answerCachedInOnRequest(app, 0)
  await app.register(fastifyPerfTiming, { serverTiming: exposeAll, metrics: false })
  app.get('/cached', async () => 'from handler')
  const base = await listen(app)
  const response = await request(`${base}/cached`)
  assert.equal(response.text, 'from cache')
  const metrics = parseServerTiming(header(response))
  assert.deepEqual(
    metrics.map((m) => [m.name, m.desc]),
    [
      ['total', undefined],
      ['cache', 'hit'],
    ],
  )
})
