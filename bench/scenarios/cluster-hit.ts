/**
 * `cluster-hit`: the deployment of docs/deployment.md at its smallest. nginx (1 worker, upstream
 * keep-alive) balances round robin over two Node processes, each the `slow` route with the route
 * cache on (`ttl: '10m'`), `RedisStore` as the shared tier and an L1 kept consistent by `RedisBus`.
 * After the first request per process, every request is an L1 hit behind one nginx hop.
 *
 * The harness pins the server side to one CPU and every process here inherits it: nginx and both
 * Node processes share that core, so on a 2-core machine the ratio to `limit` (one process, no
 * proxy) is what the nginx hop and a second process cost, not what a second core adds. With a core
 * per process the same layout scales with the cores (docs/benchmarks.md).
 *
 * The two app processes are this module again (`fork` with the role in the environment).
 * Skipped by the harness (with a note) when nginx is not on PATH: `apt-get install -y nginx`.
 */

import { type ChildProcess, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyPerfCache from '@fastify-perf/cache'
import { RedisBus, RedisStore } from '@fastify-perf/cache-redis'
import Fastify from 'fastify'
import type { StartServer } from '../src/scenario.js'
import { startNginx } from './nginx-server.js'
import { fetchProductFromDatabase, JSON_CONTENT_TYPE } from './payload.js'

const ROLE = 'FASTIFY_PERF_BENCH_CLUSTER_HIT_WORKER'
const WORKERS = 2

/** One app process: listens on a free loopback port, tells the parent which. */
async function runWorker(url: string, prefix: string): Promise<void> {
  // Above nginx's upstream keepalive_timeout (60 s): nginx closes idle connections first.
  const app = Fastify({ logger: false, keepAliveTimeout: 65_000 })
  app.server.headersTimeout = 66_000
  const store = new RedisStore({ url, prefix })
  const bus = new RedisBus({ url })
  await app.register(fastifyPerfCache, { store, l1: { maxSize: '8MB', bus, fallbackTtl: '5s' } })
  app.addHook('onClose', async () => {
    await bus.close()
    await store.close()
  })
  app.get('/', { config: { cache: { ttl: '10m' } } }, async function cachedRoute(_request, reply) {
    const body = await fetchProductFromDatabase()
    reply.header('content-type', JSON_CONTENT_TYPE)
    return body
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected server address')
  // The parent's end of the IPC channel closes however it ends: never outlive it.
  process.on('disconnect', () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
  process.send?.({ port: address.port })
}

const role = process.env[ROLE]
if (role !== undefined) {
  const { url, prefix } = JSON.parse(role) as { url: string; prefix: string }
  await runWorker(url, prefix)
}

/** CPU time of a process from /proc/<pid>/stat (utime, stime), in microseconds. */
function cpuOf(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: 0, system: 0 }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Clock ticks of 10 ms (CLK_TCK 100 on Linux).
    return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 }
  } catch {
    return { user: 0, system: 0 }
  }
}

export const startServer: StartServer = async (context) => {
  const url = context.services.redis?.url
  if (url === undefined) throw new Error('cluster-hit needs the redis service')
  const prefix = `bench-cluster-${process.pid}:`
  const self = fileURLToPath(import.meta.url)
  const workers: ChildProcess[] = []
  const ports: number[] = []
  const stopWorkers = async (): Promise<void> => {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.exitCode !== null || worker.signalCode !== null) return resolve()
            worker.once('exit', () => resolve())
            worker.disconnect()
            setTimeout(() => worker.kill('SIGKILL'), 5000).unref()
          }),
      ),
    )
  }
  try {
    for (let i = 0; i < WORKERS; i++) {
      const worker = fork(self, [], {
        env: { ...process.env, [ROLE]: JSON.stringify({ url, prefix }) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      workers.push(worker)
      ports.push(
        await new Promise<number>((resolve, reject) => {
          worker.once('message', (message: { port: number }) => resolve(message.port))
          worker.once('exit', (code) =>
            reject(new Error(`cluster-hit worker exited (${code}) before listening`)),
          )
        }),
      )
    }
  } catch (error) {
    await stopWorkers()
    throw error
  }
  return startNginx({
    http: (port) => `
  upstream app {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    keepalive 32;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503;
    }
  }`,
    extraCpu: () => {
      const own = process.cpuUsage()
      const total = { user: own.user, system: own.system }
      for (const worker of workers) {
        const cpu = cpuOf(worker.pid)
        total.user += cpu.user
        total.system += cpu.system
      }
      return total
    },
    close: stopWorkers,
  })
}
