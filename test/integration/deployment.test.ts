// The deployment of docs/deployment.md, for real: nginx (started by the test helpers) in front of
// two instances of the catalog service (examples/cluster/src/server.ts, each its own `node`
// process, as in production), sharing one private redis-server, each with RedisStore + L1 +
// RedisBus and the route cache on `/products/:id`.
//
// What issue 9 asks:
// - a response cached through one instance is a hit through the other;
// - `invalidateTags` through one is seen through both;
// - one instance stopped gracefully (SIGTERM) under load through nginx loses no request;
// - a rolling restart of both under load loses no request.
// A request is pinned to one instance with `x-upstream: 0|1` (see nginxHttpConfig); without it,
// nginx balances round robin and retries a refused connection on the other instance.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import {
  freePort,
  type HttpResponse,
  type LoadResult,
  load,
  type NginxHandle,
  redisCommand,
  request,
  type ServiceHandle,
  startNginx,
  startRedis,
} from '@fastify-perf/test-helpers'

const SERVER = fileURLToPath(new URL('../../examples/cluster/src/server.ts', import.meta.url))

/** Simulated database latency of the instances: uncached `/stock/:id` requests take this long. */
const DB_LATENCY_MS = 40

/** One app instance: a child process on a fixed port, restartable on the same port. */
class Instance {
  readonly name: string
  readonly port: number
  readonly redisUrl: string
  #child: ChildProcess | undefined
  #exit: Promise<number | null> = Promise.resolve(null)
  output = ''

  constructor(name: string, port: number, redisUrl: string) {
    this.name = name
    this.port = port
    this.redisUrl = redisUrl
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Spawns the instance and resolves once it listens. */
  async start(): Promise<void> {
    // Not the test runner's NODE_TEST_CONTEXT: the instance is a program, not a test file.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env
    const child = spawn(process.execPath, [...process.execArgv, SERVER], {
      env: {
        ...env,
        PORT: String(this.port),
        REDIS_URL: this.redisUrl,
        INSTANCE: this.name,
        // Above nginx's upstream keepalive_timeout (1 s below): no pooled connection is left for
        // the app to close under nginx at the moment it sends a POST on it.
        DRAIN_MS: '1500',
        DB_LATENCY_MS: String(DB_LATENCY_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    live.add(child)
    this.output = ''
    const onData = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-8192)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.#exit = new Promise((resolve) =>
      child.once('exit', (code) => {
        live.delete(child)
        resolve(code)
      }),
    )
    const deadline = Date.now() + 30_000
    while (!this.output.includes(`${this.name} listening on`)) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited while starting:\n${this.output}`)
      if (Date.now() > deadline) throw new Error(`${this.name} did not listen within 30 s:\n${this.output}`)
      await sleep(20)
    }
  }

  /** SIGTERM (graceful: drains in-flight requests) and the exit code it ended with. */
  async stop(): Promise<number | null> {
    this.#child?.kill('SIGTERM')
    return this.#exit
  }
}

/** Every instance process still running, killed if the test process ends early. */
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

let redis: ServiceHandle
let nginx: NginxHandle
let a: Instance
let b: Instance

before(async () => {
  redis = await startRedis()
  a = new Instance('instance-a', await freePort(), redis.url)
  b = new Instance('instance-b', await freePort(), redis.url)
  await Promise.all([a.start(), b.start()])
  nginx = await startNginx({ upstreams: [a.address, b.address], upstreamKeepaliveSeconds: 1 })
})

after(async () => {
  await nginx?.stop()
  await Promise.all([a?.stop(), b?.stop()])
  await redis?.stop()
})

/** GET through nginx, pinned to instance 0 (a) or 1 (b). */
function via(index: 0 | 1, path: string, method = 'GET'): Promise<HttpResponse> {
  return request(`${nginx.url}${path}`, { method, headers: { 'x-upstream': String(index) } })
}

/** Number of route cache entries in Redis (the store's `r:` keys under the app's prefix). */
async function routeEntries(): Promise<number> {
  return ((await redisCommand(redis.url, 'KEYS', 'catalog:cache:r:*')) as string[]).length
}

/**
 * Waits until Redis holds more route cache entries than `count`: the route cache writes to the
 * store after the response went out, so the other instance may ask before the write landed.
 */
async function storedInRedis(count: number): Promise<void> {
  const deadline = Date.now() + 2000
  while ((await routeEntries()) <= count) {
    if (Date.now() > deadline) throw new Error('no new route cache entry in Redis after 2 s')
    await sleep(5)
  }
}

function cacheStatus(res: HttpResponse): string {
  return String(res.headers['cache-status'])
}

interface Rendered {
  renderedBy: string
  renderedAt: string
}

/** Asserts a load run lost nothing: no transport error, every status 200. */
function assertNoneLost(result: LoadResult, what: string): void {
  assert.ok(result.total > 0, `${what}: no request ran`)
  assert.equal(
    result.failed,
    0,
    `${what}: ${result.failed} of ${result.total} failed:\n${result.errors.join('\n')}`,
  )
  assert.deepEqual(
    Object.keys(result.statuses),
    [what === 'orders' ? '201' : '200'],
    `${what}: statuses ${JSON.stringify(result.statuses)}`,
  )
}

/**
 * Keeps two loads running through nginx until `work` is done: hits on the cached route and the
 * uncached `/stock/:id`, whose requests are in flight for DB_LATENCY_MS each (so a stopping
 * instance has requests to drain). Back-to-back bounded `load()` runs, merged.
 */
async function underLoad(
  work: () => Promise<void>,
): Promise<{ cached: LoadResult; uncached: LoadResult; orders: LoadResult }> {
  let done = false
  const loop = async (path: string, method = 'GET'): Promise<LoadResult> => {
    const merged: LoadResult = {
      total: 0,
      failed: 0,
      errors: [],
      statuses: {},
      maxLatencyMs: 0,
      latencies: [],
      startedAt: [],
      durationMs: 0,
    }
    while (!done) {
      const r = await load({ url: `${nginx.url}${path}`, method, connections: 4, durationMs: 500 })
      merged.total += r.total
      merged.failed += r.failed
      merged.errors.push(...r.errors)
      for (const [status, count] of Object.entries(r.statuses)) {
        merged.statuses[Number(status)] = (merged.statuses[Number(status)] ?? 0) + count
      }
      merged.maxLatencyMs = Math.max(merged.maxLatencyMs, r.maxLatencyMs)
      merged.durationMs += r.durationMs
    }
    return merged
  }
  const cached = loop('/products/42')
  const uncached = loop('/stock/42')
  const orders = loop('/orders', 'POST')
  try {
    // Let both loads reach both instances before anything stops.
    await sleep(500)
    await work()
    await sleep(500)
  } finally {
    done = true
  }
  return { cached: await cached, uncached: await uncached, orders: await orders }
}

test('a response cached through one instance is a hit through the other', async () => {
  const entries = await routeEntries()
  const first = await via(0, '/products/1')
  assert.equal(first.status, 200)
  assert.equal(first.headers['x-instance'], 'instance-a')
  assert.match(cacheStatus(first), /fwd=uri-miss; stored/)
  await storedInRedis(entries)

  const second = await via(1, '/products/1')
  assert.equal(second.status, 200)
  assert.equal(second.headers['x-instance'], 'instance-b')
  assert.match(cacheStatus(second), /; hit/)
  assert.equal(second.text, first.text)
  assert.equal(second.json<Rendered>().renderedBy, 'instance-a')

  // Unpinned, round robin: every answer is the same hit, whichever instance gives it.
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const res = await request(`${nginx.url}/products/1`)
    assert.match(cacheStatus(res), /; hit/)
    assert.equal(res.text, first.text)
    seen.add(String(res.headers['x-instance']))
  }
  assert.deepEqual([...seen].sort(), ['instance-a', 'instance-b'])
})

test('invalidateTags through one instance is seen through both', async () => {
  // Cached, and in both instances' L1 (each served it once).
  const entries = await routeEntries()
  const original = await via(0, '/products/2')
  await storedInRedis(entries)
  assert.match(cacheStatus(await via(1, '/products/2')), /; hit/)
  assert.match(cacheStatus(await via(0, '/products/2')), /; hit/)

  const invalidated = await via(0, '/admin/invalidate', 'POST')
  assert.equal(invalidated.status, 200)

  // Through b: no longer the old entry. The bus message reaches b within milliseconds; poll
  // briefly rather than race it.
  let fromB: HttpResponse | undefined
  for (const deadline = Date.now() + 2000; Date.now() < deadline; await sleep(10)) {
    fromB = await via(1, '/products/2')
    if (fromB.text !== original.text) break
  }
  assert.ok(fromB)
  assert.notEqual(fromB.text, original.text, 'b still serves the invalidated response')
  assert.doesNotMatch(cacheStatus(fromB), /; hit/)
  assert.equal(fromB.json<Rendered>().renderedBy, 'instance-b')

  // Through a, where the invalidation ran: not its old L1 copy either. (A hit on what b just
  // stored, or a miss when a asks before b's write reached Redis: the route cache stores after
  // the response went out.)
  const fromA = await via(0, '/products/2')
  assert.equal(fromA.status, 200)
  assert.notEqual(fromA.text, original.text, 'a still serves the invalidated response')
})

test('one instance stopped gracefully under load loses no request', async () => {
  const { cached, uncached, orders } = await underLoad(async () => {
    assert.equal(await a.stop(), 0, a.output)
    // b alone for a moment, then a comes back.
    await sleep(500)
    await a.start()
  })
  assertNoneLost(cached, 'cached route')
  assertNoneLost(uncached, 'uncached route')
  assertNoneLost(orders, 'orders')
})

test('a rolling restart of both instances under load loses no request', async () => {
  const { cached, uncached, orders } = await underLoad(async () => {
    for (const instance of [a, b]) {
      assert.equal(await instance.stop(), 0, instance.output)
      await instance.start()
      // Both serve again (the restarted one answers through nginx) before the next one stops.
      assert.equal((await via(instance === a ? 0 : 1, '/health')).status, 200)
    }
  })
  assertNoneLost(cached, 'cached route')
  assertNoneLost(uncached, 'uncached route')
  assertNoneLost(orders, 'orders')
  // Both instances answered after the restart.
  assert.equal((await via(0, '/products/42')).headers['x-instance'], 'instance-a')
  assert.equal((await via(1, '/products/42')).headers['x-instance'], 'instance-b')
})
