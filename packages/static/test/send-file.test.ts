import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { channelNames, fastifyPerfStatic, type StaticServeEvent } from '@fastify-perf/static'
import { buildApp } from '@fastify-perf/test-helpers'
import { CSS, makeSite, OUTSIDE_SECRET, rawRequest, serve } from './fixtures.js'

// reply.sendFile (issue 17): the app's own routes send files exactly as the plugin's route does.

const IMMUTABLE = 'public, max-age=31536000, immutable'
const SHORT = 'public, max-age=300, must-revalidate'

for (const hotCache of [false, true]) {
  const from = hotCache ? 'from memory' : 'from disk'

  test(`sendFile answers with the policy, validators, Vary and a 304, over a real socket (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache, prefix: '/static/' }, (app) => {
      app.get('/app.js', (_request, reply) => reply.sendFile('assets/index-D1a2b3c4.js'))
      // The async form and a leading slash, as with @fastify/static.
      app.get('/', async (_request, reply) => reply.sendFile('/index.html'))
      app.get('/logo', (_request, reply) => {
        reply.sendFile('logo-dark.svg')
      })
    })
    const expectations: [string, string, string][] = [
      ['/app.js', IMMUTABLE, 'application/javascript; charset=utf-8'],
      ['/', 'no-cache', 'text/html; charset=utf-8'],
      ['/logo', SHORT, 'image/svg+xml'],
    ]
    for (const [path, cacheControl, contentType] of expectations) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 200, path)
      assert.equal(res.headers['cache-control'], cacheControl, path)
      assert.equal(res.headers['content-type'], contentType, path)
      assert.equal(res.headers.vary, 'accept-encoding', path)
      const etag = res.headers.etag as string
      assert.ok(etag, `${path} has an ETag`)
      assert.ok(res.headers['last-modified'], `${path} has Last-Modified`)
      // The same file through the plugin's route: the same headers.
      const viaRoute = await rawRequest(base, path === '/' ? '/static/' : `/static/${expectedFile(path)}`)
      assert.equal(viaRoute.headers.etag, etag, path)
      assert.equal(viaRoute.headers['cache-control'], cacheControl, path)

      const revalidated = await rawRequest(base, path, { 'if-none-match': etag })
      assert.equal(revalidated.status, 304, path)
      assert.equal(revalidated.body.length, 0, path)
      assert.equal(revalidated.headers['cache-control'], cacheControl, path)
      assert.equal(revalidated.headers.etag, etag, path)
      const since = await rawRequest(base, path, {
        'if-modified-since': res.headers['last-modified'] as string,
      })
      assert.equal(since.status, 304, path)
    }
  })

  test(`sendFile serves a precompressed sibling with the original's type and policy (${from})`, async (t) => {
    const site = makeSite(t)
    const { app } = await serve(t, { root: site.root, hotCache }, (app) => {
      app.get('/style', (_request, reply) => reply.sendFile('assets/index-BX7k2QzA.css'))
    })
    const gzipped = await app.inject({ url: '/style', headers: { 'accept-encoding': 'gzip' } })
    assert.equal(gzipped.statusCode, 200)
    assert.equal(gzipped.headers['content-encoding'], 'gzip')
    assert.equal(gzipped.headers['content-type'], 'text/css; charset=utf-8')
    assert.equal(gzipped.headers['cache-control'], IMMUTABLE)
    const plain = await app.inject('/style')
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.deepEqual(plain.rawPayload, CSS)
  })

  test(`sendFile options.cacheControl replaces the policy's for that call only, 304 included (${from})`, async (t) => {
    const site = makeSite(t)
    const { app } = await serve(t, { root: site.root, hotCache }, (app) => {
      app.get('/no-store', (_request, reply) => reply.sendFile('index.html', { cacheControl: 'no-store' }))
      app.get('/day', (_request, reply) =>
        reply.sendFile('logo-dark.svg', undefined, { cacheControl: { maxAge: '1d', immutable: true } }),
      )
      app.get('/none', (_request, reply) => reply.sendFile('logo-dark.svg', { cacheControl: false }))
      app.get('/policy', (_request, reply) => reply.sendFile('logo-dark.svg'))
    })
    const noStore = await app.inject('/no-store')
    assert.equal(noStore.headers['cache-control'], 'no-store')
    const notModified = await app.inject({
      url: '/no-store',
      headers: { 'if-none-match': noStore.headers.etag as string },
    })
    assert.equal(notModified.statusCode, 304)
    assert.equal(notModified.headers['cache-control'], 'no-store')
    assert.equal((await app.inject('/day')).headers['cache-control'], 'max-age=86400, immutable')
    const none = await app.inject('/none')
    assert.equal(none.statusCode, 200)
    assert.equal(none.headers['cache-control'], undefined)
    // The override did not stick to the file: the policy is back for the next call.
    assert.equal((await app.inject('/policy')).headers['cache-control'], SHORT)
    assert.equal((await app.inject('/logo-dark.svg')).headers['cache-control'], SHORT)
  })

  test(`sendFile of a missing file goes to the app's 404 handler (${from})`, async (t) => {
    const site = makeSite(t)
    const { app } = await serve(t, { root: site.root, hotCache, spaFallback: 'index.html' }, (app) => {
      app.setNotFoundHandler((_request, reply) => reply.code(404).send({ missing: true }))
      app.get('/gone', (_request, reply) => reply.sendFile('nothing-here'))
      app.get('/gone.js', (_request, reply) => reply.sendFile('assets/missing.js'))
    })
    for (const url of ['/gone', '/gone.js']) {
      // No SPA fallback for sendFile, even for a navigation: the app asked for that file.
      const res = await app.inject({ url, headers: { accept: 'text/html' } })
      assert.equal(res.statusCode, 404, url)
      assert.deepEqual(res.json(), { missing: true }, url)
      assert.equal(res.headers['cache-control'], undefined, url)
    }
  })

  test(`sendFile refuses traversal and non-canonical names; the file beside the root never comes back (${from})`, async (t) => {
    const site = makeSite(t)
    const { app } = await serve(t, { root: site.root, hotCache }, (app) => {
      app.get('/file', (request, reply) => reply.sendFile((request.query as { name: string }).name))
    })
    const forbidden = [
      '../secret.txt',
      '/../secret.txt',
      'assets/../../secret.txt',
      'assets/../index.html',
      './index.html',
      'assets//index-D1a2b3c4.js',
      '..\\secret.txt',
      'index.html\0.txt',
      '',
    ]
    for (const name of forbidden) {
      const res = await app.inject({ url: '/file', query: { name } })
      assert.equal(res.statusCode, 403, JSON.stringify(name))
      assert.equal(res.json().code, 'FST_PERF_STATIC_FORBIDDEN_PATH', JSON.stringify(name))
      assert.ok(!res.body.includes(OUTSIDE_SECRET))
    }
    // Dotfiles follow `dotfiles` (default 'ignore': as if absent).
    assert.equal((await app.inject({ url: '/file', query: { name: '.env' } })).statusCode, 404)
    // A name is a file name, not a URL: no percent-decoding, so no encoded traversal.
    assert.equal((await app.inject({ url: '/file', query: { name: '%2e%2e/secret.txt' } })).statusCode, 404)
  })
}

test('sendFile: a directory name ending in / sends its index file; rootPath and options.root choose the root', async (t) => {
  const site = makeSite(t)
  const elsewhere = mkdtempSync(join(tmpdir(), 'fastify-perf-static-elsewhere-'))
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }))
  writeFileSync(join(elsewhere, 'report.html'), 'elsewhere')
  const { app } = await serve(t, { root: site.root, hotCache: true }, (app) => {
    app.get('/about', (_request, reply) => reply.sendFile('about/'))
    app.get('/report', (_request, reply) => reply.sendFile('report.html', elsewhere))
    app.get('/report-option', (_request, reply) => reply.sendFile('report.html', { root: elsewhere }))
    app.get('/report-escape', (_request, reply) => reply.sendFile('../secret.txt', elsewhere))
    app.get('/relative', (_request, reply) => reply.sendFile('index.html', 'public'))
  })
  assert.equal((await app.inject('/about')).body, '<!doctype html><title>about</title>')
  for (const url of ['/report', '/report-option']) {
    const res = await app.inject(url)
    assert.equal(res.body, 'elsewhere', url)
    // Another root, the same policy: an HTML file is an entry point.
    assert.equal(res.headers['cache-control'], 'no-cache', url)
  }
  assert.equal((await app.inject('/report-escape')).statusCode, 403)
  const relative = await app.inject('/relative')
  assert.equal(relative.statusCode, 500)
  assert.equal(relative.json().code, 'FST_PERF_STATIC_INVALID_OPTION')
  assert.match(relative.json().message, /rootPath.*absolute/)
})

test("sendFile: @fastify/static's maxAge is refused with a pointer to cacheControl", async (t) => {
  const site = makeSite(t)
  const { app } = await serve(t, { root: site.root }, (app) => {
    app.get('/', (_request, reply) =>
      reply.sendFile('index.html', { maxAge: 0, immutable: false } as unknown as { cacheControl: string }),
    )
  })
  const res = await app.inject('/')
  assert.equal(res.statusCode, 500)
  assert.equal(res.json().code, 'FST_PERF_STATIC_INVALID_OPTION')
  assert.match(res.json().message, /maxAge.*cacheControl/)
})

test('sendFile hits the hot cache: no disk read for a cached file', async (t) => {
  const site = makeSite(t)
  const events: StaticServeEvent[] = []
  const onServe = (event: unknown) => events.push(event as StaticServeEvent)
  subscribe(channelNames.serve, onServe)
  t.after(() => unsubscribe(channelNames.serve, onServe))
  const { app } = await serve(t, { root: site.root, hotCache: { checkInterval: '1h' } }, (app) => {
    app.get('/', (_request, reply) => reply.sendFile('index.html'))
  })
  await app.inject('/')
  await app.inject('/')
  assert.deepEqual(
    events.map((event) => event.source),
    ['memory', 'memory'],
  )
})

test('decorateReply: false leaves reply.sendFile undecorated', async (t) => {
  const site = makeSite(t)
  const app = buildApp(t)
  await app.register(fastifyPerfStatic, { root: site.root, decorateReply: false })
  await app.ready()
  assert.equal(app.hasReplyDecorator('sendFile'), false)
  assert.equal((await app.inject('/index.html')).statusCode, 200)
})

function expectedFile(path: string): string {
  return { '/app.js': 'assets/index-D1a2b3c4.js', '/logo': 'logo-dark.svg' }[path] ?? ''
}
