import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { FST_PERF_TIMING_INVALID_OPTION } from '../src/errors.js'
import {
  asyncContextFrameInUse,
  DEFAULT_BUCKETS,
  type FastifyPerfTimingOptions,
  resolveOptions,
} from '../src/options.js'

test('resolveOptions returns a new frozen object and leaves the input alone', () => {
  const input = { prefix: '/v1', metrics: { path: '/m' }, slowThreshold: '1.5s' } as const
  const copy = structuredClone(input)
  const resolved = resolveOptions(input as FastifyPerfTimingOptions)
  assert.ok(Object.isFrozen(resolved))
  assert.ok(Object.isFrozen(resolved.metrics))
  assert.deepEqual(input, copy)
  assert.equal(resolved.slowThresholdMs, 1500)
  assert.ok(Object.isFrozen(resolveOptions()))
})

test('defaults: Server-Timing gated by NODE_ENV, metrics on /metrics, no StatsD, no slow log, no AsyncLocalStorage', () => {
  const previous = process.env.NODE_ENV
  try {
    process.env.NODE_ENV = 'production'
    const resolved = resolveOptions()
    assert.ok(resolved.serverTiming !== false)
    assert.equal(resolved.serverTiming.expose({} as never), false)
    assert.equal(resolved.serverTiming.timingAllowOrigin, null)
    assert.ok(resolved.metrics !== false)
    assert.equal(resolved.metrics.path, '/metrics')
    assert.equal(resolved.metrics.registry, null)
    assert.equal(resolved.metrics.guardStatus, 404)
    assert.equal(resolved.metrics.buckets, DEFAULT_BUCKETS)
    assert.equal(resolved.metrics.defaultMetrics, true)
    assert.equal(resolved.metrics.cluster, false)
    assert.equal(resolved.statsd, false)
    assert.equal(resolved.slowThresholdMs, Number.POSITIVE_INFINITY)
    assert.equal(resolved.asyncContext, asyncContextFrameInUse())
    process.env.NODE_ENV = 'development'
    const dev = resolveOptions({})
    assert.ok(dev.serverTiming !== false && dev.serverTiming.expose({} as never) === true)
  } finally {
    process.env.NODE_ENV = previous
  }
})

test('accepted values are normalized', () => {
  const registry = new Registry()
  const resolved = resolveOptions({
    serverTiming: { timingAllowOrigin: ['https://a.example', 'http://localhost:3000'] },
    metrics: { registry, buckets: [0.1, 1], guardStatus: 403, path: false },
    statsd: { port: 9125, prefix: 'app', globalTags: ['env:prod'], gaugeInterval: '1m', maxBufferSize: 0 },
    slowThreshold: 250,
  })
  assert.ok(resolved.serverTiming !== false && resolved.metrics !== false && resolved.statsd !== false)
  assert.equal(resolved.serverTiming.timingAllowOrigin, 'https://a.example, http://localhost:3000')
  assert.equal(resolved.metrics.registry, registry)
  assert.deepEqual(resolved.metrics.buckets, [0.1, 1])
  assert.equal(resolved.statsd.host, '127.0.0.1')
  assert.equal(resolved.statsd.gaugeIntervalMs, 60_000)
  assert.equal(resolved.statsd.maxBufferSize, 0)
  assert.equal(resolved.slowThresholdMs, 250)
  assert.equal(resolveOptions({ serverTiming: false, metrics: false }).metrics, false)
  assert.equal(resolveOptions({ serverTiming: { timingAllowOrigin: '*' } }).serverTiming !== false, true)
})

const REJECTED: [string, unknown, RegExp][] = [
  ['not an object', null, /options must be an object/],
  ['an array', [], /options must be an object/],
  ['unknown key', { serverTimings: true }, /unknown option "serverTimings"/],
  ['unknown nested key', { metrics: { route: '/m' } }, /unknown option "metrics.route"/],
  ['serverTiming not an object', { serverTiming: 'yes' }, /serverTiming must be an object/],
  ['expose not a function', { serverTiming: { expose: true } }, /serverTiming.expose must be a function/],
  [
    'origin with a path and comma',
    { serverTiming: { timingAllowOrigin: 'https://a.com/x,y' } },
    /is not an origin/,
  ],
  ['empty origin list', { serverTiming: { timingAllowOrigin: [] } }, /timingAllowOrigin/],
  [
    'registry not a registry',
    { metrics: { registry: {} } },
    /metrics.registry must be a prom-client Registry/,
  ],
  ['relative path', { metrics: { path: 'metrics' } }, /metrics.path must be a path/],
  ['guard not a function', { metrics: { guard: 'secret' } }, /metrics.guard must be a function/],
  ['guardStatus 401', { metrics: { guardStatus: 401 } }, /guardStatus must be 403 or 404/],
  ['empty buckets', { metrics: { buckets: [] } }, /metrics.buckets/],
  ['descending buckets', { metrics: { buckets: [1, 0.5] } }, /ascending/],
  ['Infinity bucket', { metrics: { buckets: [1, Number.POSITIVE_INFINITY] } }, /ascending/],
  [
    'defaultMetrics not boolean',
    { metrics: { defaultMetrics: 'yes' } },
    /metrics.defaultMetrics must be a boolean/,
  ],
  ['statsd true', { statsd: true }, /statsd must be an object/],
  ['statsd port 0', { statsd: { port: 0 } }, /statsd.port/],
  ['statsd port string', { statsd: { port: '8125' } }, /statsd.port/],
  ['statsd host empty', { statsd: { host: '' } }, /statsd.host/],
  ['statsd client incomplete', { statsd: { client: { timing() {} } } }, /statsd.client/],
  ['statsd tags not strings', { statsd: { globalTags: { env: 1 } } }, /statsd.globalTags/],
  ['statsd buffer negative', { statsd: { maxBufferSize: -1 } }, /statsd.maxBufferSize/],
  ['statsd gaugeInterval tiny', { statsd: { gaugeInterval: 10 } }, /gaugeInterval must be at least 100ms/],
  ['slowThreshold word', { slowThreshold: 'fast' }, /slowThreshold must be milliseconds/],
  ['slowThreshold negative', { slowThreshold: -5 }, /slowThreshold/],
  ['slowThreshold true', { slowThreshold: true }, /slowThreshold/],
  ['asyncContext string', { asyncContext: 'yes' }, /asyncContext must be a boolean/],
]

for (const [name, options, message] of REJECTED) {
  test(`resolveOptions refuses ${name} with a coded TypeError`, () => {
    assert.throws(
      () => resolveOptions(options as FastifyPerfTimingOptions),
      (error: Error & { code?: string }) => {
        assert.ok(error instanceof TypeError)
        assert.ok(error instanceof FST_PERF_TIMING_INVALID_OPTION)
        assert.equal(error.code, 'FST_PERF_TIMING_INVALID_OPTION')
        assert.match(error.message, message)
        return true
      },
    )
  })
}

test('asyncContext defaults to on where AsyncLocalStorage runs on AsyncContextFrame (Node >= 24)', () => {
  assert.equal(asyncContextFrameInUse('22.23.5', []), false)
  assert.equal(asyncContextFrameInUse('22.23.5', ['--experimental-async-context-frame']), true)
  assert.equal(asyncContextFrameInUse('24.11.0', []), true)
  assert.equal(asyncContextFrameInUse('24.11.0', ['--no-async-context-frame']), false)
  assert.equal(asyncContextFrameInUse('26.12.1', ['']), true)
  assert.equal(resolveOptions({ asyncContext: false }).asyncContext, false)
  assert.equal(resolveOptions({ asyncContext: true }).asyncContext, true)
})
