// The example as a user runs it: `src/main.ts` in its own process (primary + 2 workers) against a
// private redis-server, over real sockets.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { request, startRedis } from '@fastify-perf/test-helpers'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))

/** Sum of a metric's samples whose labels contain every `labels` pair, from a Prometheus text body. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

test('the cluster example: a cached page, one metrics scrape summed over both workers, a clean SIGTERM', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  // Not the test runner's NODE_TEST_CONTEXT: the example is a program, not a test file.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...env, REDIS_URL: redis.url, PORT: '0', METRICS_PORT: '0', WORKERS: '2', DB_LATENCY_MS: '20' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const ready = new Promise<{ base: string; metrics: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+), metrics on (http:\/\/\S+)/.exec(output)
      if (match) resolve({ base: match[1] as string, metrics: match[2] as string })
    })
    child.once('exit', () => reject(new Error(`the example exited before it was ready:\n${output}`)))
    setTimeout(() => reject(new Error(`not ready within 20 s:\n${output}`)), 20_000).unref()
  })
  const { base, metrics } = await ready

  const first = await request(`${base}/products/7`)
  assert.equal(first.status, 200)
  assert.match(String(first.headers['cache-status']), /fwd=uri-miss; stored/)

  // Each request on its own connection: the primary hands connections to the workers in turn.
  // Go on until both workers answered and a hit came back, counting per worker and per outcome
  // (bounded). The next request usually lands on the other worker: `stored` means the write to
  // Redis is under way, so on a loaded machine that worker may still miss once.
  const perWorker = new Map<string, number>()
  const seen = { hit: 0, miss: 0 }
  // Bodies the workers rendered (a miss renders its own): a hit serves one of them, never another.
  const rendered = new Set<string>()
  const count = (res: typeof first) => {
    const name = String(res.headers['x-instance'])
    perWorker.set(name, (perWorker.get(name) ?? 0) + 1)
    if (/; hit/.test(String(res.headers['cache-status']))) {
      seen.hit++
      assert.ok(rendered.has(res.text), `a hit served a body no worker rendered: ${res.text}`)
    } else {
      seen.miss++
      assert.equal(JSON.parse(res.text).id, 7)
      rendered.add(res.text)
    }
  }
  count(first)
  for (let i = 0; i < 100 && (perWorker.size < 2 || seen.hit === 0); i++) {
    const res = await request(`${base}/products/7`)
    assert.equal(res.status, 200)
    count(res)
    if (seen.hit === 0) await sleep(10)
  }
  assert.equal(perWorker.size, 2, `both workers answered: ${JSON.stringify([...perWorker])}\n${output}`)
  assert.ok(seen.hit > 0, `a hit came back: ${JSON.stringify(seen)}`)
  const sent = [...perWorker.values()].reduce((a, b) => a + b, 0)

  const scrape = await request(metrics)
  assert.equal(scrape.status, 200)
  const route = { method: 'GET', route: '/products/:id' }
  assert.equal(sample(scrape.text, 'http_request_duration_seconds_count', route), sent)
  const hits = sample(scrape.text, 'fastify_perf_route_cache_responses_total', { ...route, outcome: 'hit' })
  const misses = sample(scrape.text, 'fastify_perf_route_cache_responses_total', {
    ...route,
    outcome: 'miss',
  })
  // The one scrape counts exactly what the client saw from both workers.
  assert.equal(misses, seen.miss)
  assert.equal(hits, seen.hit)
  // The sum is more than any one worker could have counted.
  assert.ok(sent > Math.max(...perWorker.values()))

  child.kill('SIGTERM')
  const [code, signal] = await exited
  assert.equal(signal, null, output)
  assert.equal(code, 0, output)
  assert.match(output, /stopped \(2 workers, 0 unclean exits\)/)
})
