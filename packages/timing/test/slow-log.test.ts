import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { Writable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming, { type SlowRequestLog } from '@fastify-perf/timing'

interface LogLine {
  level: number
  msg: string
  slowRequest?: SlowRequestLog
}

function appWithLog(t: TestContext) {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as LogLine)
      callback()
    },
  })
  const app = buildApp(t, { logger: { level: 'info', stream } })
  return { app, slowLines: () => lines.filter((line) => line.slowRequest !== undefined) }
}

test('a request over slowThreshold is logged once at warn with its route and phase breakdown', async (t) => {
  const { app, slowLines } = appWithLog(t)
  await app.register(fastifyPerfTiming, { metrics: false, slowThreshold: '30ms' })
  app.get('/reports/:id', async (_request, reply) => {
    diagnostics
      .channel('fastify-perf:cache:miss')
      .publish({ store: 'memory', namespace: 'reports', key: 'r' })
    await reply.timing.measure('db', () => sleep(20), 'report query')
    reply.timing.start('render')
    await sleep(15)
    reply.timing.end('render')
    return { ok: true }
  })
  app.get('/fast', async () => 'ok')
  const base = await listen(app)
  await request(`${base}/reports/42?full=1`)
  await request(`${base}/fast`)

  const lines = slowLines()
  assert.equal(lines.length, 1, 'once, and only for the slow request')
  const [line] = lines
  assert.equal(line!.level, 40, 'warn')
  assert.match(line!.msg, /^slow request: GET \/reports\/:id took [\d.]+ ms \(threshold 30 ms\)$/)
  const record = line!.slowRequest!
  assert.equal(record.method, 'GET')
  assert.equal(record.route, '/reports/:id')
  assert.equal(record.url, '/reports/42?full=1')
  assert.equal(record.statusCode, 200)
  assert.equal(record.thresholdMs, 30)
  assert.equal(record.cache, 'miss')
  assert.ok(record.durationMs >= 35)
  assert.ok(record.phases.db! >= 19 && record.phases.render! >= 14, JSON.stringify(record.phases))
  assert.ok(record.phases.handler! >= record.phases.db! + record.phases.render! - 1)
  assert.ok(record.phases.handler! <= record.durationMs)
})

test('no slow log without slowThreshold, nor for routes with config.timing false', async (t) => {
  const { app, slowLines } = appWithLog(t)
  await app.register(fastifyPerfTiming, { metrics: false, slowThreshold: 1 })
  app.get('/health', { config: { timing: false } }, async () => {
    await sleep(5)
    return 'ok'
  })
  const base = await listen(app)
  await request(`${base}/health`)

  const { app: quiet, slowLines: quietLines } = appWithLog(t)
  await quiet.register(fastifyPerfTiming, { metrics: false })
  quiet.get('/slow', async () => {
    await sleep(5)
    return 'ok'
  })
  const quietBase = await listen(quiet)
  await request(`${quietBase}/slow`)
  assert.equal(slowLines().length, 0)
  assert.equal(quietLines().length, 0)
})

test('compression reported after the headers went out (a stream) is not taken out of the handler phase', async (t) => {
  const { app, slowLines } = appWithLog(t)
  await app.register(fastifyPerfTiming, { metrics: false, slowThreshold: 10 })
  app.get('/stream', async () => {
    await sleep(30)
    return 'body'
  })
  // Like @fastify-perf/compress at the end of a compressed stream: after onSend, request attached.
  app.addHook('onResponse', async (request) => {
    diagnostics.channel('fastify-perf:compress:encoded').publish({
      encoding: 'br',
      bytesIn: 100,
      bytesOut: 10,
      durationMs: 25,
      request,
      stream: true,
    })
  })
  const base = await listen(app)
  await request(`${base}/stream`)
  const record = slowLines()[0]!.slowRequest!
  assert.equal(record.phases.compress, 25)
  assert.ok(record.phases.handler! >= 29, `handler ${record.phases.handler} keeps its 30 ms`)
})
