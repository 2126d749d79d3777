// The caching proxy in front of a real test origin, over real sockets: what the README
// promises (forwarding of every method and path, the cache with Cache-Status and Age, header
// hygiene), and the server entry point as a process.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort, request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildProxy } from '../src/proxy.js'
import { selfSignedCert, selfSignedKey } from './self-signed.js'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const serverSource = fileURLToPath(new URL('../src/server.ts', import.meta.url))

interface Seen {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A small origin that records what it receives and answers per path. */
async function startOrigin(): Promise<{ app: FastifyInstance; base: string; seen: Seen[] }> {
  const app = Fastify({ logger: false })
  const seen: Seen[] = []
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
  for (const method of ['PURGE', 'PROPFIND']) app.addHttpMethod(method, { hasBody: true })
  let counter = 0
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PURGE', 'PROPFIND'],
    url: '/*',
    handler: async (request, reply) => {
      counter++
      seen.push({
        method: request.method,
        url: request.url,
        headers: { ...request.headers },
        body: typeof request.body === 'string' ? request.body : '',
      })
      const path = request.url.split('?')[0]
      if (path === '/fail') return reply.code(503).send('down')
      if (path === '/hop') {
        reply.header('connection', 'x-secret-hop')
        reply.header('x-secret-hop', 'not for clients')
      }
      if (path === '/private') reply.header('cache-control', 'private, max-age=60')
      else if (request.method === 'GET') reply.header('cache-control', 'max-age=60')
      return `${request.method} ${request.url} #${counter}${request.body ? ` body=${request.body}` : ''}`
    },
  })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base, seen }
}

describe('buildProxy in front of an origin', () => {
  let origin: Awaited<ReturnType<typeof startOrigin>>
  let proxy: FastifyInstance
  let base: string

  before(async () => {
    origin = await startOrigin()
    proxy = await buildProxy({ upstream: origin.base })
    base = await proxy.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await proxy?.close()
    await origin?.app.close()
  })

  test('a GET is a miss, then a hit with Cache-Status and Age', async () => {
    const miss = await request(`${base}/products?page=1`)
    assert.equal(miss.status, 200)
    assert.match(miss.text, /^GET \/products\?page=1 #\d+$/)
    assert.equal(miss.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
    const hit = await request(`${base}/products?page=1`)
    assert.equal(hit.text, miss.text)
    assert.match(String(hit.headers['cache-status']), /^fastify-perf; hit; ttl=\d+$/)
    assert.match(String(hit.headers.age), /^\d+$/)
  })

  test('every method and the raw path reach the origin', async () => {
    const post = await request(`${base}/orders`, {
      method: 'POST',
      body: '{"id":1}',
      headers: { 'content-type': 'application/json' },
    })
    assert.equal(post.text.replace(/#\d+/, '#n'), 'POST /orders #n body={"id":1}')
    assert.equal(post.headers['cache-status'], undefined)
    for (const method of ['PUT', 'DELETE', 'PURGE', 'PROPFIND']) {
      const res = await request(`${base}/things/1`, { method, body: 'x' })
      assert.equal(res.status, 200, method)
      assert.match(res.text, new RegExp(`^${method} /things/1 #`))
    }
    const encoded = await request(`${base}/a%2Fb;v=1?x=%20y`)
    assert.match(encoded.text, /^GET \/a%2Fb;v=1\?x=%20y #/)
  })

  test('a successful POST invalidates the stored GET of its URL (RFC 9111 §4.4)', async () => {
    const first = await request(`${base}/cart`)
    assert.equal((await request(`${base}/cart`)).text, first.text)
    await request(`${base}/cart`, { method: 'POST', body: 'add' })
    const after = await request(`${base}/cart`)
    assert.notEqual(after.text, first.text)
  })

  test('private responses pass through and are not stored', async () => {
    const one = await request(`${base}/private`)
    const two = await request(`${base}/private`)
    assert.notEqual(one.text, two.text)
    assert.equal(two.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=PRIVATE')
  })

  test('hop-by-hop headers are dropped, Via added, X-Forwarded-* written by the proxy', async () => {
    // node:http, because undici (the helpers' client) refuses to send Keep-Alive itself.
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const url = new URL(`${base}/hop`)
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          agent: false,
          headers: {
            'x-forwarded-host': 'evil.example',
            'x-forwarded-for': '6.6.6.6',
            'keep-alive': 'timeout=5',
          },
        },
        resolve,
      )
      req.on('error', reject)
      req.end()
    })
    res.resume()
    await once(res, 'end')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-secret-hop'], undefined)
    assert.match(String(res.headers.via), /1\.1 fastify-perf-proxy/)
    const seen = origin.seen.findLast((s) => s.url === '/hop')!
    assert.equal(seen.headers['x-forwarded-host'], new URL(base).host)
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
    assert.equal(seen.headers['keep-alive'], undefined)
    assert.match(String(seen.headers.via), /1\.1 fastify-perf-proxy/)
  })

  test('a failing origin is asked once, and its 503 is not stored', async () => {
    const before = origin.seen.filter((s) => s.url === '/fail').length
    const res = await request(`${base}/fail`)
    assert.equal(res.status, 503)
    assert.equal(origin.seen.filter((s) => s.url === '/fail').length, before + 1, 'no retries')
    assert.equal(res.headers['cache-status'], 'fastify-perf; fwd=uri-miss; detail=STATUS')
  })
})

test('with cache.edge, fresh hits are answered before routing; a POST still invalidates them at once', async (t) => {
  const origin = await startOrigin()
  const proxy = await buildProxy({ upstream: origin.base, cache: { edge: true } })
  t.after(async () => {
    await proxy.close()
    await origin.app.close()
  })
  const base = await proxy.listen({ host: '127.0.0.1', port: 0 })
  const miss = await request(`${base}/catalogue`)
  let edge = miss
  for (let i = 0; i < 20 && !/detail=edge$/.test(String(edge.headers['cache-status'])); i++) {
    edge = await request(`${base}/catalogue`)
  }
  assert.match(String(edge.headers['cache-status']), /^fastify-perf; hit; ttl=\d+; detail=edge$/)
  assert.equal(edge.text, miss.text)
  assert.match(String(edge.headers.via), /fastify-perf-proxy/)
  const asked = origin.seen.length
  for (let i = 0; i < 5; i++) assert.equal((await request(`${base}/catalogue`)).text, miss.text)
  assert.equal(origin.seen.length, asked, 'an edge hit reached the origin')
  await request(`${base}/catalogue`, { method: 'POST', body: 'x' })
  const after = await request(`${base}/catalogue`)
  assert.notEqual(after.text, miss.text, 'the edge served the entry the POST invalidated')
  assert.match(String(after.headers['cache-status']), /fwd=uri-miss/)
})

test('an unreachable origin gives a 502 quickly, never a hang', async () => {
  const port = await freePort()
  const proxy = await buildProxy({ upstream: `http://127.0.0.1:${port}` })
  const base = await proxy.listen({ host: '127.0.0.1', port: 0 })
  try {
    const started = Date.now()
    const res = await request(`${base}/anything`)
    assert.equal(res.status, 502)
    assert.ok(Date.now() - started < 5000)
  } finally {
    await proxy.close()
  }
})

interface Interim {
  status: number
  headers: IncomingHttpHeaders
}

/** A GET that also records the interim (1xx) responses, which fetch-style clients drop. */
function getWithInterim(
  url: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string; interim: Interim[] }> {
  return new Promise((resolve, reject) => {
    const interim: Interim[] = []
    const req = httpRequest(url, { agent: false })
    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers }))
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, interim }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('interim responses, timeouts: a raw origin over real sockets', () => {
  let origin: ReturnType<typeof createServer>
  let proxy: FastifyInstance
  let base: string
  const calls = new Map<string, number>()

  before(async () => {
    origin = createServer((req, res) => {
      const path = req.url ?? '/'
      calls.set(path, (calls.get(path) ?? 0) + 1)
      const final = (body: string) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
        res.end(body)
      }
      if (path === '/hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style', 'x-hint': 'early' })
        setTimeout(() => final('hinted'), 20)
      } else if (path === '/processing') {
        res.writeProcessing()
        setTimeout(() => final('processed'), 20)
      } else if (path === '/slow') {
        setTimeout(() => final('too late'), 2000)
      } else {
        final('plain')
      }
    })
    origin.listen(0, '127.0.0.1')
    await once(origin, 'listening')
    const { port } = origin.address() as AddressInfo
    proxy = await buildProxy({ upstream: `http://127.0.0.1:${port}`, upstreamTimeout: 300 })
    base = await proxy.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => {
    await proxy?.close()
    origin?.closeAllConnections()
    await new Promise((resolve) => origin?.close(resolve))
  })

  test('a 103 Early Hints reaches the client with its fields, and is neither stored nor replayed', async () => {
    const miss = await getWithInterim(`${base}/hints`)
    assert.equal(miss.status, 200)
    assert.equal(miss.body, 'hinted')
    assert.equal(miss.interim.length, 1)
    assert.equal(miss.interim[0]!.status, 103)
    assert.equal(miss.interim[0]!.headers.link, '</style.css>; rel=preload; as=style')
    assert.equal(miss.interim[0]!.headers['x-hint'], 'early')
    assert.equal(miss.headers['x-hint'], undefined, "the 103's fields are not the final response's")
    assert.equal(miss.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')

    const hit = await getWithInterim(`${base}/hints`)
    assert.match(String(hit.headers['cache-status']), /; hit; ttl=/)
    assert.equal(hit.body, 'hinted')
    assert.deepEqual(hit.interim, [], 'a hit sends no interim response')
    assert.equal(hit.headers['x-hint'], undefined)
    assert.equal(calls.get('/hints'), 1)
  })

  test('a 102 Processing reaches the client', async () => {
    const res = await getWithInterim(`${base}/processing`)
    assert.equal(res.status, 200)
    assert.equal(res.body, 'processed')
    assert.deepEqual(
      res.interim.map((i) => i.status),
      [102],
    )
  })

  test('an origin slower than upstreamTimeout gives a 504', async () => {
    const res = await request(`${base}/slow`)
    assert.equal(res.status, 504)
    assert.notEqual(res.headers['cache-status'], undefined)
  })
})

test("an https upstream's certificate is verified (CVE-2026-107318 in reply-from < 12.7.0)", async (t) => {
  let reached = 0
  const origin = createHttpsServer({ key: selfSignedKey, cert: selfSignedCert }, (_req, res) => {
    reached++
    res.end('secret')
  })
  origin.listen(0, '127.0.0.1')
  await once(origin, 'listening')
  t.after(() => new Promise((resolve) => origin.close(resolve)))
  const { port } = origin.address() as AddressInfo
  const proxy = await buildProxy({ upstream: `https://127.0.0.1:${port}` })
  t.after(() => proxy.close())
  const base = await proxy.listen({ host: '127.0.0.1', port: 0 })
  const res = await request(`${base}/`)
  assert.ok(res.status >= 500, `status ${res.status}: an untrusted certificate must not be accepted`)
  assert.equal(reached, 0)
})

test('buildProxy refuses an upstream that is not http(s)', async () => {
  await assert.rejects(buildProxy({ upstream: 'ftp://127.0.0.1:21' }), /http:\/\/ or https:\/\//)
})

describe('src/server.ts as a process', () => {
  /** The first tsx compile of the sources on a cold 2-core machine takes seconds. */
  const START_TIMEOUT_MS = 30_000

  function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
    const child = spawn(
      process.execPath,
      ['--conditions=fastify-perf-source', '--import', 'tsx', serverSource],
      {
        cwd: repoRoot,
        env: { ...process.env, PORT: '', HOST: '', LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    return { child, output: () => output }
  }

  async function waitFor(
    pattern: RegExp,
    output: () => string,
    child: ChildProcess,
  ): Promise<RegExpExecArray> {
    const deadline = Date.now() + START_TIMEOUT_MS
    while (Date.now() < deadline) {
      const found = pattern.exec(output())
      if (found) return found
      if (child.exitCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`no ${pattern} in the output:\n${output()}`)
  }

  test('prints its URL, proxies with the cache, exits 0 on SIGTERM', async () => {
    const origin = await startOrigin()
    const server = startServer({ UPSTREAM: origin.base })
    try {
      const [, url] = await waitFor(
        /Caching proxy listening on (http:\/\/\S+) ->/,
        server.output,
        server.child,
      )
      const miss = await request(`${url}/hello`)
      assert.equal(miss.headers['cache-status'], 'fastify-perf; fwd=uri-miss; stored')
      const hit = await request(`${url}/hello`)
      assert.equal(hit.text, miss.text)
      assert.match(String(hit.headers['cache-status']), /; hit; ttl=/)
      const exited = once(server.child, 'exit')
      server.child.kill('SIGTERM')
      const [code] = await exited
      assert.equal(code, 0, server.output())
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await origin.app.close()
    }
  })

  test('without UPSTREAM it says what is missing and exits 1', async () => {
    const server = startServer({ UPSTREAM: '' })
    const [code] = await once(server.child, 'exit')
    assert.equal(code, 1)
    assert.match(server.output(), /UPSTREAM is required/)
  })
})
