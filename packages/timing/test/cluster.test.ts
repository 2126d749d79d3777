import assert from 'node:assert/strict'
import cluster, { type Worker } from 'node:cluster'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from '@fastify-perf/test-helpers'
import { FST_PERF_TIMING_INVALID_OPTION, setupClusterMetrics } from '@fastify-perf/timing'
import { parsePrometheusText, seriesValue } from './support/prometheus-text.js'

// This test process is the cluster primary: it forks two real workers running
// fixtures/cluster-worker.ts (through the same tsx loader), which answer 10 and 20 requests
// before listening on the shared port, then reads one aggregated scrape.

function fork(requests: number): Promise<{ worker: Worker; port: number }> {
  const worker = cluster.fork({ REQUESTS: String(requests) })
  return new Promise((resolve, reject) => {
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
    worker.on('message', (message: { ready?: boolean; port?: number }) => {
      if (message?.ready) resolve({ worker, port: message.port! })
    })
  })
}

test('setupClusterMetrics serves one scrape summed over two workers', { timeout: 60_000 }, async (t) => {
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./fixtures/cluster-worker.ts', import.meta.url)),
    silent: false,
  })
  const workers: Worker[] = []
  t.after(async () => {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve()
            worker.once('exit', () => resolve())
            worker.send('shutdown')
            setTimeout(() => worker.kill('SIGKILL'), 5000).unref()
          }),
      ),
    )
  })
  const [first, second] = await Promise.all([fork(10), fork(20)])
  workers.push(first.worker, second.worker)
  assert.equal(first.port, second.port, 'cluster workers share one listening port')

  const metrics = await setupClusterMetrics({ port: 0 })
  t.after(() => metrics.close())
  assert.match(metrics.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

  const families = parsePrometheusText((await request(metrics.url)).text)
  const labels = { method: 'GET', route: '/work', status_code: '200' }
  // 10 from one worker + 20 from the other: neither worker alone could answer 30.
  assert.equal(seriesValue(families, 'http_request_duration_seconds_count', labels), 30)
  assert.equal(seriesValue(families, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), 30)

  // Real requests through the shared port, spread by the primary over both workers.
  for (let i = 0; i < 12; i++)
    assert.equal((await request(`http://127.0.0.1:${first.port}/work`)).status, 200)
  const after = parsePrometheusText((await request(metrics.url)).text)
  assert.equal(seriesValue(after, 'http_request_duration_seconds_count', labels), 42)
  assert.equal(seriesValue(after, 'http_requests_in_flight'), 0, 'in-flight adds up (nothing in flight)')

  assert.equal((await request(metrics.url.replace('/metrics', '/other'))).status, 404)
})

test('setupClusterMetrics validates its options', async () => {
  await assert.rejects(setupClusterMetrics({ port: -1 }), FST_PERF_TIMING_INVALID_OPTION)
  await assert.rejects(setupClusterMetrics({ port: 0, path: 'metrics' }), FST_PERF_TIMING_INVALID_OPTION)
})
