// Sync path or stream path? @fastify/compress 9.2 compresses buffered bodies up to `syncThreshold`
// with one synchronous call on the event loop, and everything else through a zlib stream on
// libuv's threadpool. This script measures both for a few body sizes on this machine: a server
// process with @fastify-perf/compress (memo off, so every response is compressed) answers
// `Accept-Encoding: br` requests from a load generator in this process, for a few seconds each.
//
//   node --conditions=fastify-perf-source --import tsx packages/compress/scripts/measure-sync-path.ts
//
// Environment: DURATION_MS (per cell, default 4000), CONNECTIONS (default 32), ROUNDS (default 3),
// PIN=0 to run the server unpinned (default: server on CPU 0 with taskset, load on CPU 1, the way
// one process per core is deployed). Reports the median over rounds of requests per second, the
// server's CPU time per request (all its threads, so the threadpool's work counts too), the
// client's p99 latency, and the server's event-loop delay p99 (what the sync path costs everyone
// else on that loop).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { load, percentile } from '@fastify-perf/test-helpers'
import { jsonBody } from './corpus.js'

const SIZES = [20 * 1024, 200 * 1024, 1024 * 1024]
const MODES = { sync: Number.MAX_SAFE_INTEGER, stream: 0 } as const

if (process.argv[2] === '--serve') {
  await serve(Number(process.argv[3]), Number(process.argv[4]))
} else {
  await measureAll()
}

async function serve(size: number, syncThreshold: number): Promise<void> {
  const { monitorEventLoopDelay } = await import('node:perf_hooks')
  const { default: Fastify } = await import('fastify')
  const { default: fastifyPerfCompress } = await import('@fastify-perf/compress')
  const body = jsonBody(size).toString()
  const app = Fastify({ logger: false })
  await app.register(fastifyPerfCompress, { memo: false, syncThreshold })
  app.get('/', (_request, reply) => {
    reply.type('application/json').send(body)
  })
  const delay = monitorEventLoopDelay({ resolution: 1 })
  let cpuAtReset = process.cpuUsage()
  app.get('/loop', (_request, reply) => {
    const cpu = process.cpuUsage(cpuAtReset)
    reply.send({ p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, cpuUs: cpu.user + cpu.system })
  })
  app.post('/reset', (_request, reply) => {
    delay.reset()
    cpuAtReset = process.cpuUsage()
    reply.send('ok')
  })
  delay.enable()
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  process.stdout.write(`${address}\n`)
}

async function measureAll(): Promise<void> {
  const duration = Number(process.env.DURATION_MS ?? 4000)
  const connections = Number(process.env.CONNECTIONS ?? 32)
  const rounds = Number(process.env.ROUNDS ?? 3)
  const pin = process.env.PIN !== '0' && hasTaskset()
  if (pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' })
  console.log(
    `# sync vs stream path: Node ${process.version}, ${pin ? 'server on CPU 0, load on CPU 1' : 'unpinned'}, ` +
      `${connections} connections, ${duration} ms x ${rounds} rounds, Accept-Encoding: br`,
  )
  console.log('')
  console.log('| body | path | req/s | server CPU µs/req | client p99 ms | server loop delay p99 ms |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: |')
  for (const size of SIZES) {
    const results: Record<string, { rps: number[]; cpu: number[]; p99: number[]; loop: number[] }> = {}
    for (let round = 0; round < rounds; round++) {
      for (const [mode, threshold] of Object.entries(MODES)) {
        results[mode] ??= { rps: [], cpu: [], p99: [], loop: [] }
        const cell = results[mode]
        const server = await startServer(size, threshold, pin)
        try {
          // Warm-up, then the measured window.
          await load({
            url: `${server.url}/`,
            connections,
            durationMs: 1000,
            headers: { 'accept-encoding': 'br' },
          })
          await fetch(`${server.url}/reset`, { method: 'POST' })
          const started = performance.now()
          const result = await load({
            url: `${server.url}/`,
            connections,
            durationMs: duration,
            headers: { 'accept-encoding': 'br' },
          })
          const elapsed = (performance.now() - started) / 1000
          if (result.failed > 0) throw new Error(`${result.failed} failed requests: ${result.errors[0]}`)
          const loop = (await (await fetch(`${server.url}/loop`)).json()) as { p99: number; cpuUs: number }
          cell.rps.push(result.total / elapsed)
          cell.cpu.push(loop.cpuUs / result.total)
          cell.p99.push(percentile(result.latencies, 99))
          cell.loop.push(loop.p99)
        } finally {
          server.stop()
        }
      }
    }
    for (const [mode, cell] of Object.entries(results)) {
      console.log(
        `| ${size / 1024} KB | ${mode} | ${median(cell.rps).toFixed(0)} | ${median(cell.cpu).toFixed(0)} | ` +
          `${median(cell.p99).toFixed(1)} | ` +
          `${median(cell.loop).toFixed(1)} |`,
      )
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function startServer(size: number, syncThreshold: number, pin: boolean) {
  const script = fileURLToPath(import.meta.url)
  const args = [
    '--conditions=fastify-perf-source',
    '--import',
    'tsx',
    script,
    '--serve',
    String(size),
    String(syncThreshold),
  ]
  const child = pin
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  const url = chunk.toString().trim()
  return {
    url,
    stop: () => child.kill('SIGKILL'),
  }
}
