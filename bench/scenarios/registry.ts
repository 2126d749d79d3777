/**
 * Every benchmark scenario, in report order. Adding a scenario = a module in this folder that
 * exports `createServer` (see `../src/scenario.ts`) plus one entry here. `limit` must stay first:
 * it is the reference every ratio is computed against, and the harness always runs it.
 */

import type { ScenarioDefinition } from '../src/scenario.js'
import {
  COMPRESS_PAYLOAD,
  COMPRESS_PAYLOAD_BYTES,
  COMPRESS_REQUEST_HEADERS,
  fastifyCompressBrotliBytes,
  perfCompressBrotliBytes,
  uniqueBody,
} from './compress-payload.js'
import {
  BUNDLE_N1_PATH,
  DICTIONARY_REQUEST_HEADERS,
  expectedDictionaryBytes,
  NO_DICTIONARY_REQUEST_HEADERS,
} from './dictionary-bundle.js'
import { PAYLOAD_BYTES } from './payload.js'
import { STYLESHEET_BYTES, STYLESHEET_ETAG, STYLESHEET_PATH } from './static-asset.js'

const OK_PAYLOAD = { status: 200, bodyBytes: PAYLOAD_BYTES } as const

/** Name of the reference scenario (always measured, ratio 1.00 by definition). */
export const REFERENCE_SCENARIO = 'limit'

export const scenarios: readonly ScenarioDefinition[] = [
  {
    name: 'limit',
    module: 'limit.ts',
    description: 'bare route, precomputed 2 KB JSON string (the in-process cache hit limit)',
    expect: OK_PAYLOAD,
  },
  {
    name: 'raw-hit',
    module: 'raw-hit.ts',
    description:
      'plain node:http server (no Fastify) answering the stored 2 KB payload from a Map by req.url: the ceiling of any in-process hit, a reference',
    expect: OK_PAYLOAD,
  },
  {
    name: 'slow',
    module: 'slow.ts',
    description: 'same payload behind a 20 ms simulated database call, no cache',
    expect: OK_PAYLOAD,
    paired: false,
  },
  {
    name: 'data-hit',
    module: 'data-hit.ts',
    description: '@fastify-perf/cache getOrSet hit (memory store), factory = 20 ms database call',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
  {
    name: 'data-hit-bentocache',
    module: 'data-hit-bentocache.ts',
    description: 'bentocache getOrSet hit (memory driver, L1 only), same factory',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
  {
    name: 'data-hit-acd',
    module: 'data-hit-acd.ts',
    description: 'async-cache-dedupe defined function hit (memory storage), same factory',
    peerOf: 'data-hit',
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-raw',
    module: 'redis-raw.ts',
    description: 'bare handler, one raw ioredis GET of the payload (auto-pipelining): the Redis hit floor',
    peerOf: 'redis-hit',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-hit',
    module: 'redis-hit.ts',
    description: 'data-hit route on the Redis store (@fastify-perf/cache-redis), no L1: one GET per hit',
    peerOf: 'redis-hit',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-bentocache',
    module: 'redis-bentocache.ts',
    description:
      'data-hit route on bentocache, Redis driver as its only layer (L2, no L1), same client settings',
    peerOf: 'redis-hit',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-l1-hit',
    module: 'redis-l1-hit.ts',
    description: 'data-hit route on the Redis store with the L1 tier and RedisBus: hits from process memory',
    peerOf: 'redis-hit',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-raw-keys',
    module: 'redis-raw-keys.ts',
    description: 'redis-raw over 1,000 keys read in turn: no two requests in flight share a GET',
    peerOf: 'redis-hit-keys',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'redis-hit-keys',
    module: 'redis-hit-keys.ts',
    description: 'redis-hit over 1,000 cached keys read in turn: every hit its own GET, nothing to join',
    peerOf: 'redis-hit-keys',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'memcached-raw',
    module: 'memcached-raw.ts',
    description: 'bare handler, one raw memjs get of the payload: the Memcached hit floor',
    peerOf: 'memcached-hit',
    services: ['memcached'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'memcached-hit',
    module: 'memcached-hit.ts',
    description: 'data-hit route on the Memcached store (@fastify-perf/cache-memcached): one get per hit',
    peerOf: 'memcached-hit',
    services: ['memcached'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'memcached-raw-keys',
    module: 'memcached-raw-keys.ts',
    description: 'memcached-raw over 1,000 keys read in turn: no two requests in flight share a get',
    peerOf: 'memcached-hit-keys',
    services: ['memcached'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'memcached-hit-keys',
    module: 'memcached-hit-keys.ts',
    description: 'memcached-hit over 1,000 cached keys read in turn: every hit its own get, nothing to join',
    peerOf: 'memcached-hit-keys',
    services: ['memcached'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'route-hit-memory',
    module: 'route-hit-memory.ts',
    description:
      '@fastify-perf/cache route cache hit (memory store) on the slow route, config.cache ttl 10m, written by the cache',
    peerOf: 'route-hit',
    versus: 'slow',
    expect: OK_PAYLOAD,
  },
  {
    name: 'route-hit-redis',
    module: 'route-hit-redis.ts',
    description:
      'same route cache hit on the Redis store (@fastify-perf/cache-redis), no L1: one Redis GET per hit',
    peerOf: 'route-hit',
    versus: 'slow',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'route-hit-edge',
    module: 'route-hit-edge.ts',
    description:
      'route-hit-memory with the opt-in edge path (routes.edge): hits answered before routing, no hook runs',
    peerOf: 'route-hit',
    versus: 'slow',
    expect: OK_PAYLOAD,
  },
  {
    name: 'route-hit-edge-l1',
    module: 'route-hit-edge-l1.ts',
    description: 'route-hit-edge on the Redis store with L1 and the Redis bus: edge hits from L1',
    peerOf: 'route-hit',
    versus: 'slow',
    services: ['redis'],
    expect: OK_PAYLOAD,
  },
  {
    name: 'route-nginx-proxy-cache',
    module: 'route-nginx-proxy-cache.ts',
    description: 'nginx proxy_cache (1 worker, proxy_cache_valid 200 10m) in front of the uncached slow app',
    peerOf: 'route-hit',
    versus: 'slow',
    requires: { command: 'nginx', install: 'apt-get install -y nginx-light' },
    expect: OK_PAYLOAD,
  },
  {
    name: 'cluster-hit',
    module: 'cluster-hit.ts',
    description:
      'slow route, route cache hit in 2 processes behind nginx (round robin, upstream keep-alive), RedisStore + L1 + bus',
    peerOf: 'route-hit',
    versus: 'slow',
    services: ['redis'],
    requires: { command: 'nginx', install: 'apt-get install -y nginx' },
    expect: OK_PAYLOAD,
  },
  {
    name: 'static-small-fastify-static',
    module: 'static-small-fastify-static.ts',
    description: '4 KB CSS file, @fastify/static alone (stat + stream from disk per request)',
    peerOf: 'static-small',
    request: { path: STYLESHEET_PATH },
    expect: { status: 200, bodyBytes: STYLESHEET_BYTES },
  },
  {
    name: 'static-small',
    module: 'static-small.ts',
    description: 'same file, @fastify-perf/static with the hot-file cache (bytes and headers in memory)',
    peerOf: 'static-small',
    request: { path: STYLESHEET_PATH },
    expect: { status: 200, bodyBytes: STYLESHEET_BYTES },
  },
  {
    name: 'static-small-nginx',
    module: 'static-small-nginx.ts',
    description: 'same file, nginx (1 worker, sendfile, no open_file_cache): a reference, not a goal',
    peerOf: 'static-small',
    requires: { command: 'nginx', install: 'apt-get install -y nginx-light' },
    request: { path: STYLESHEET_PATH },
    expect: { status: 200, bodyBytes: STYLESHEET_BYTES },
  },
  {
    name: 'static-dictionary',
    module: 'static-dictionary.ts',
    description:
      '~300 KB app bundle, version N+1 to a browser holding N (Available-Dictionary, dcz): a delta precomputed by fastify-perf-precompress, from memory',
    peerOf: 'static-dictionary',
    request: { path: BUNDLE_N1_PATH, headers: DICTIONARY_REQUEST_HEADERS },
    // Getters: the exact sizes cost about a second of compression, paid only when checked.
    expect: {
      status: 200,
      get bodyBytes() {
        return expectedDictionaryBytes().dcz
      },
    },
  },
  {
    name: 'static-dictionary-br',
    module: 'static-dictionary.ts',
    description:
      'same server and file, a browser without the dictionary: the .br sibling (quality 11), from memory',
    peerOf: 'static-dictionary',
    request: { path: BUNDLE_N1_PATH, headers: NO_DICTIONARY_REQUEST_HEADERS },
    expect: {
      status: 200,
      get bodyBytes() {
        return expectedDictionaryBytes().br
      },
    },
  },
  {
    name: 'static-304',
    module: 'static-304.ts',
    description: 'same file, @fastify-perf/static, If-None-Match with its ETag: 304 from memory',
    request: { path: STYLESHEET_PATH, headers: { 'if-none-match': STYLESHEET_ETAG } },
    expect: { status: 304, bodyBytes: 0 },
  },
  {
    name: 'timing-header',
    module: 'timing-header.ts',
    description:
      'limit route + @fastify-perf/timing, Server-Timing only (exposed on every request, metrics off)',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-overhead',
    module: 'timing-overhead.ts',
    description: 'limit route + @fastify-perf/timing, Server-Timing and the Prometheus request histogram',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-overhead-als',
    module: 'timing-overhead-als.ts',
    description:
      'timing-overhead with asyncContext: true (what AsyncLocalStorage costs where it is not the default: Node 22)',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-overhead-no-als',
    module: 'timing-overhead-no-als.ts',
    description:
      'timing-overhead with asyncContext: false (what the Node >= 24 default of AsyncLocalStorage costs)',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-fastify-metrics',
    module: 'timing-fastify-metrics.ts',
    description: 'limit route + fastify-metrics 13 with its defaults (prom-client histogram and summary)',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-otel',
    module: 'timing-otel.ts',
    description:
      "limit route + @fastify-perf/timing, Server-Timing and OpenTelemetry metrics with otel.metricProducer (duration counted in the plugin's cells, read by the reader every 10 s; SDK MeterProvider, in-memory exporter), Prometheus off",
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-otel-record',
    module: 'timing-otel-record.ts',
    description:
      "timing-otel without the producer: the SDK's Histogram.record() per request (the default OTel path)",
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'timing-fastify-otel',
    module: 'timing-fastify-otel.ts',
    description:
      'limit route + @fastify/otel spans (SDK TracerProvider, BatchSpanProcessor, in-memory exporter), no timing plugin: a reference',
    peerOf: 'timing',
    expect: OK_PAYLOAD,
  },
  {
    name: 'compress-identity',
    module: 'compress-identity.ts',
    description: '20 KB JSON route, no compression plugin (context: what sending the bytes costs)',
    peerOf: 'compress',
    request: { headers: COMPRESS_REQUEST_HEADERS },
    expect: { status: 200, bodyBytes: COMPRESS_PAYLOAD_BYTES },
  },
  {
    name: 'compress-defaults',
    module: 'compress-defaults.ts',
    description: 'same route, @fastify/compress 9.2 with its defaults (brotli q4, every response compressed)',
    peerOf: 'compress',
    request: { headers: COMPRESS_REQUEST_HEADERS },
    expect: { status: 200, bodyBytes: fastifyCompressBrotliBytes(COMPRESS_PAYLOAD) },
  },
  {
    name: 'compress-unique',
    module: 'compress-unique.ts',
    description: 'same route, @fastify-perf/compress defaults, every body different (memo always misses)',
    peerOf: 'compress',
    request: { headers: COMPRESS_REQUEST_HEADERS },
    // The check is the server's first response: body number 0.
    expect: { status: 200, bodyBytes: perfCompressBrotliBytes(uniqueBody(0)) },
  },
  {
    name: 'compress-repeat',
    module: 'compress-repeat.ts',
    description:
      'same route, @fastify-perf/compress defaults, the same body every time, no cache (memo hits)',
    peerOf: 'compress',
    request: { headers: COMPRESS_REQUEST_HEADERS },
    expect: { status: 200, bodyBytes: perfCompressBrotliBytes(COMPRESS_PAYLOAD) },
  },
  {
    name: 'compress-cached',
    module: 'compress-cached.ts',
    description:
      "same route behind @fastify-perf/cache's route cache (ttl 10m): compressed once, brotli bytes served from memory",
    peerOf: 'compress',
    request: { headers: COMPRESS_REQUEST_HEADERS },
    expect: { status: 200, bodyBytes: perfCompressBrotliBytes(COMPRESS_PAYLOAD) },
  },
]
