// The README's first command, as a process: start the real demo server, read the URL
// it prints, talk to it over HTTP (undici, bodies as sent on the wire), stop it with SIGTERM.
// The full `node scripts/pnpm.mjs demo` chain and its signals are in process.test.ts.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { brotliDecompressSync } from 'node:zlib'
import { request } from '@fastify-perf/test-helpers'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const serverSource = fileURLToPath(new URL('../src/server.ts', import.meta.url))

/** Generous: the first tsx compile of the sources on a cold 2-core machine takes seconds. */
const START_TIMEOUT_MS = 30_000
const EXIT_TIMEOUT_MS = 5_000

interface RunningDemo {
  child: ChildProcess
  baseUrl: string
  output: () => string
}

/** Spawns the server from its TypeScript sources (no build needed) and waits for its URL line. */
async function startDemo(): Promise<RunningDemo> {
  const child = spawn(
    process.execPath,
    ['--conditions=fastify-perf-source', '--import', 'tsx', serverSource],
    {
      // cwd at the root so `--import tsx` resolves the root's devDependency.
      cwd: repoRoot,
      // PORT unset on purpose: the server must pick a free port and say which.
      env: { ...process.env, PORT: '', HOST: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`demo printed no URL within ${START_TIMEOUT_MS} ms\n${output()}`))
    }, START_TIMEOUT_MS)
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const match = /Demo listening on (http:\/\/\S+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`demo exited early (code ${code}, signal ${signal})\n${output()}`))
    })
  })
  return { child, baseUrl, output }
}

async function dbQueries(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/health`)
  assert.equal(response.status, 200)
  const body = (await response.json()) as { dbQueries: number }
  return body.dbQueries
}

async function cacheStats(baseUrl: string): Promise<{ hits: number }> {
  const response = await fetch(`${baseUrl}/admin/cache-stats`)
  assert.equal(response.status, 200)
  return (await response.json()) as { hits: number }
}

describe('demo server (the README quick start)', () => {
  let demo: RunningDemo

  before(async () => {
    demo = await startDemo()
  })

  after(() => {
    // Only if a test failed before the SIGTERM test: never leave the server behind.
    if (demo && demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL')
  })

  test('prints a loopback URL on a port it picked itself', () => {
    assert.match(demo.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.notEqual(new URL(demo.baseUrl).port, '0')
  })

  test('GET /products lists the catalog', async () => {
    const response = await fetch(`${demo.baseUrl}/products`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    const body = (await response.json()) as { count: number; products: { id: number }[] }
    assert.equal(body.count, 50)
    assert.equal(body.products.length, 50)
  })

  test('GET /products/1 twice: the second answer comes from the cache, not the database', async () => {
    const queriesBefore = await dbQueries(demo.baseUrl)
    const hitsBefore = (await cacheStats(demo.baseUrl)).hits

    const first = await fetch(`${demo.baseUrl}/products/1`)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('x-demo-source'), 'database')
    const firstBody = await first.json()
    assert.equal(await dbQueries(demo.baseUrl), queriesBefore + 1)

    const second = await fetch(`${demo.baseUrl}/products/1`)
    assert.equal(second.status, 200)
    assert.equal(second.headers.get('x-demo-source'), 'cache')
    assert.deepEqual(await second.json(), firstBody)
    assert.equal(
      await dbQueries(demo.baseUrl),
      queriesBefore + 1,
      'the cached read must not query the database',
    )
    assert.equal((await cacheStats(demo.baseUrl)).hits, hitsBefore + 1)
  })

  test('GET /products/:id answers a JSON 404 for an unknown product', async () => {
    const response = await fetch(`${demo.baseUrl}/products/9999`)
    assert.equal(response.status, 404)
    const body = (await response.json()) as { statusCode: number; message: string }
    assert.equal(body.statusCode, 404)
    assert.match(body.message, /9999/)
  })

  test('GET / is the demo page, revalidated (no-cache) and compressed', async () => {
    const response = await request(`${demo.baseUrl}/`, { headers: { 'accept-encoding': 'br' } })
    assert.equal(response.status, 200)
    assert.match(String(response.headers['content-type']), /^text\/html/)
    assert.equal(response.headers['cache-control'], 'no-cache')
    assert.equal(response.headers['content-encoding'], 'br')
    const html = brotliDecompressSync(response.body).toString('utf8')
    assert.match(html, /href="\/products"/)
    assert.match(html, /href="\/metrics"/)
  })

  test('GET /products: the route cache answers the second request (Cache-Status, Age), compressed, with Server-Timing', async () => {
    const url = `${demo.baseUrl}/products?category=music`
    const headers = { 'accept-encoding': 'br' }
    const first = await request(url, { headers })
    assert.equal(first.status, 200)
    assert.equal(first.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
    assert.equal(first.headers['content-encoding'], 'br')
    assert.equal(first.headers.vary, 'accept-encoding')
    assert.equal(first.headers.age, undefined)
    // The handler's own `db` entry and the compression phase; the client is on loopback.
    assert.match(String(first.headers['server-timing']), /^total;dur=[\d.]+, handler;dur=[\d.]+, /)
    assert.match(String(first.headers['server-timing']), /compress;dur=[\d.]+;desc="br"/)
    assert.match(String(first.headers['server-timing']), /db;dur=[\d.]+;desc="catalog query"/)
    const body = JSON.parse(brotliDecompressSync(first.body).toString('utf8')) as { count: number }
    assert.equal(body.count, 10)

    const second = await request(url, { headers })
    assert.equal(second.status, 200)
    assert.match(String(second.headers['cache-status']), /^fastify-perf; hit; ttl=\d+$/)
    assert.match(String(second.headers.age), /^\d+$/)
    assert.equal(second.headers['content-encoding'], 'br')
    assert.deepEqual(second.body, first.body, 'the stored compressed bytes are sent as they are')
    assert.match(String(second.headers['server-timing']), /^total;dur=[\d.]+, cache;desc="hit"$/)
  })

  test('GET /style.css has the cache policy of @fastify-perf/static and a 304 from memory', async () => {
    const response = await request(`${demo.baseUrl}/style.css`)
    assert.equal(response.status, 200)
    assert.match(String(response.headers['content-type']), /^text\/css/)
    assert.equal(response.headers['cache-control'], 'public, max-age=300, must-revalidate')
    assert.match(response.text, /font-family/)
    const etag = String(response.headers.etag)
    assert.match(etag, /^"[\w-]+"$/)
    const again = await request(`${demo.baseUrl}/style.css`, { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    assert.equal(again.headers['cache-control'], 'public, max-age=300, must-revalidate')
  })

  test('GET /metrics serves Prometheus text with the requests, route-cache outcomes and compression', async () => {
    const response = await request(`${demo.baseUrl}/metrics`)
    assert.equal(response.status, 200)
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    assert.match(
      response.text,
      /^http_request_duration_seconds_count\{method="GET",route="\/products",status_code="200"\} \d+$/m,
    )
    assert.match(
      response.text,
      /^fastify_perf_route_cache_responses_total\{method="GET",route="\/products",outcome="hit"\} [1-9]/m,
    )
    assert.match(response.text, /^fastify_perf_compress_responses_total\{encoding="br"\} [1-9]/m)
  })

  test('SIGTERM closes the server and exits with code 0', async () => {
    const exited = once(demo.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    demo.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`demo still running ${EXIT_TIMEOUT_MS} ms after SIGTERM\n${demo.output()}`)),
        EXIT_TIMEOUT_MS,
      )
    })
    try {
      const [code, signal] = await Promise.race([exited, timeout])
      assert.equal(signal, null, demo.output())
      assert.equal(code, 0, demo.output())
    } finally {
      clearTimeout(timer)
    }
  })
})
