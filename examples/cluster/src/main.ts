// The catalog service on every core of one machine: a node:cluster primary and N workers sharing
// one port (the primary hands connections out round robin) and one Redis.
//   WORKERS       number of workers; default 2
//   PORT          the shared port; default 3000 (0 picks a free one)
//   HOST          address to bind; default 127.0.0.1
//   METRICS_PORT  port of the primary's metrics server (sum over every worker); default 9464
//   REDIS_URL     the shared Redis; default redis://127.0.0.1:6379
//   DB_LATENCY_MS simulated database latency, ms; default 50
// SIGTERM or SIGINT to the primary: it stops forking, forwards SIGTERM to every worker, waits
// until each one has drained its in-flight requests and exited, then exits 0.
import cluster, { type Worker } from 'node:cluster'
import { setupClusterMetrics } from '@fastify-perf/timing'
import { intFromEnv, runInstance, SHUTDOWN_TIMEOUT_MS } from './instance.js'

const host = process.env.HOST || '127.0.0.1'
const port = intFromEnv('PORT', 3000)
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

/** What a worker tells the primary once it listens. */
interface ReadyMessage {
  type: 'catalog:ready'
  port: number
}

if (cluster.isPrimary) {
  const count = Math.max(1, intFromEnv('WORKERS', 2))
  const metrics = await setupClusterMetrics({ port: intFromEnv('METRICS_PORT', 9464), host })
  let stopping = false
  let ready = 0
  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.on('message', (message: ReadyMessage) => {
      if (message?.type !== 'catalog:ready') return
      ready++
      if (ready === count) {
        const base = `http://${host}:${message.port}`
        console.log(`Catalog cluster: ${count} workers listening on ${base}, metrics on ${metrics.url}`)
        console.log(`  curl -i ${base}/products/1                 (twice: the second is a cache hit)`)
        console.log(`  curl -X POST ${base}/admin/invalidate   (drops the cached products in every worker)`)
        console.log(`  curl ${metrics.url}    (one scrape, summed over the workers)`)
      }
    })
    return worker
  }
  for (let i = 0; i < count; i++) fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    // A crashed worker is replaced; the others keep serving meanwhile.
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    fork()
  })

  const shutdown = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    setTimeout(() => {
      console.error(`cluster did not stop within ${SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`)
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS + 1000).unref()
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
    const exits = workers.map(
      (w) => new Promise<number>((resolve) => w.once('exit', (code) => resolve(code))),
    )
    // Each worker closes its server and drains in-flight requests itself (src/instance.ts).
    for (const worker of workers) worker.process.kill('SIGTERM')
    const codes = await Promise.all(exits)
    await metrics.close()
    const failed = codes.filter((code) => code !== 0).length
    console.log(`Catalog cluster stopped (${workers.length} workers, ${failed} unclean exits)`)
    process.exit(failed === 0 ? 0 : 1)
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
} else {
  const instance = `worker-${cluster.worker?.id ?? process.pid}`
  // A Ctrl-C in a terminal reaches the whole process group; the primary does the forwarding, so
  // a worker treats its own SIGINT like the primary's SIGTERM (runInstance handles both).
  const app = await runInstance({
    instance,
    port,
    host,
    redisUrl,
    dbLatencyMs: intFromEnv('DB_LATENCY_MS', 50),
    metrics: 'cluster',
  })
  const address = app.server.address()
  const listening = typeof address === 'object' && address !== null ? address.port : port
  process.send?.({ type: 'catalog:ready', port: listening } satisfies ReadyMessage)
}
