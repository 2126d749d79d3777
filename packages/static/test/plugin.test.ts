import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyStatic from '@fastify/static'
import fastifyPerfStaticDefault, {
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
  fastifyPerfStatic,
} from '@fastify-perf/static'
import { buildApp } from '@fastify-perf/test-helpers'
import { CSS, makeSite, rawRequest, serve } from './fixtures.js'

const IMMUTABLE = 'public, max-age=31536000, immutable'
const SHORT = 'public, max-age=300, must-revalidate'

test('the default export is the named export, with the plugin metadata', () => {
  assert.equal(fastifyPerfStaticDefault, fastifyPerfStatic)
  const meta = (fastifyPerfStatic as unknown as Record<symbol, { name: string; fastify: string }>)[
    Symbol.for('plugin-meta')
  ]
  assert.equal(meta?.name, '@fastify-perf/static')
  assert.equal(meta?.fastify, '5.x')
})

for (const hotCache of [false, true]) {
  const from = hotCache ? 'from memory' : 'from disk'

  test(`default policies without configuration (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    const expectations: [string, string, string][] = [
      // fingerprinted: Vite JS and CSS
      ['/assets/index-D1a2b3c4.js', IMMUTABLE, 'application/javascript; charset=utf-8'],
      ['/assets/index-BX7k2QzA.css', IMMUTABLE, 'text/css; charset=utf-8'],
      // entry points: revalidated every time
      ['/', 'no-cache', 'text/html; charset=utf-8'],
      ['/index.html', 'no-cache', 'text/html; charset=utf-8'],
      ['/about/', 'no-cache', 'text/html; charset=utf-8'],
      ['/manifest.json', 'no-cache', 'application/json; charset=utf-8'],
      ['/site.webmanifest', 'no-cache', 'application/manifest+json'],
      ['/sw.js', 'no-cache', 'application/javascript; charset=utf-8'],
      ['/service-worker.js', 'no-cache', 'application/javascript; charset=utf-8'],
      // everything else: a short lifetime, then revalidation
      ['/logo-dark.svg', SHORT, 'image/svg+xml'],
      ['/jquery.min.js', SHORT, 'application/javascript; charset=utf-8'],
      ['/data.bin', SHORT, 'application/octet-stream'],
    ]
    for (const [path, cacheControl, contentType] of expectations) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 200, path)
      assert.equal(res.headers['cache-control'], cacheControl, path)
      assert.equal(res.headers['content-type'], contentType, path)
      assert.equal(res.headers.vary, 'accept-encoding', path)
      assert.ok(res.headers.etag, `${path} has an ETag`)
      assert.ok(res.headers['last-modified'], `${path} has Last-Modified`)
      assert.equal(res.headers['content-encoding'], undefined, path)
    }
    const css = await rawRequest(base, '/assets/index-BX7k2QzA.css')
    assert.deepEqual(css.body, CSS)
  })

  test(`rules come before the defaults and the first matching rule wins (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, {
      root: site.root,
      hotCache,
      rules: [
        // Beats the fingerprint default for this one file.
        { match: '/assets/index-D1a2b3c4.js', cacheControl: 'private, no-cache' },
        { match: '/assets/**', cacheControl: { public: true, maxAge: '1d' } },
        // Never reached for /assets: the rule above matched first.
        { match: '*.css', cacheControl: 'no-store' },
        { type: 'image/*', cacheControl: { public: true, maxAge: 600, staleWhileRevalidate: '1h' } },
        {
          match: /^\/data\./,
          cacheControl: { public: true, maxAge: '1m', sMaxAge: '1h' },
          cdnCacheControl: { maxAge: '7d' },
          headers: { 'Access-Control-Allow-Origin': '*' },
        },
        { match: ['*.html', '/manifest.json'], type: 'text/html', cacheControl: 'no-store' },
      ],
    })
    const cases: [string, string][] = [
      ['/assets/index-D1a2b3c4.js', 'private, no-cache'],
      ['/assets/index-BX7k2QzA.css', 'public, max-age=86400'],
      ['/logo-dark.svg', 'public, max-age=600, stale-while-revalidate=3600'],
      ['/data.bin', 'public, max-age=60, s-maxage=3600'],
      // match AND type: the HTML file matches both, manifest.json only the path.
      ['/index.html', 'no-store'],
      ['/manifest.json', 'no-cache'],
      ['/jquery.min.js', SHORT],
    ]
    for (const [path, cacheControl] of cases) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 200, path)
      assert.equal(res.headers['cache-control'], cacheControl, path)
    }
    const data = await rawRequest(base, '/data.bin')
    assert.equal(data.headers['cdn-cache-control'], 'max-age=604800')
    assert.equal(data.headers['access-control-allow-origin'], '*')
    assert.equal((await rawRequest(base, '/logo-dark.svg')).headers['cdn-cache-control'], undefined)
  })

  test(`the defaults can be changed or turned off (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, {
      root: site.root,
      hotCache,
      defaults: {
        fingerprinted: false,
        entryPoints: { noCache: true, private: true },
        other: 'public, max-age=60',
      },
    })
    assert.equal(
      (await rawRequest(base, '/assets/index-D1a2b3c4.js')).headers['cache-control'],
      'public, max-age=60',
    )
    assert.equal((await rawRequest(base, '/index.html')).headers['cache-control'], 'private, no-cache')
    assert.equal((await rawRequest(base, '/logo-dark.svg')).headers['cache-control'], 'public, max-age=60')
  })

  test(`a 404 never carries a file's policy (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    for (const path of ['/assets/missing-D1a2b3c4.js', '/nope.html', '/about/missing/']) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 404, path)
      assert.equal(res.headers['cache-control'], undefined, path)
    }
  })

  test(`the policy is the one of the file sent: /about is answered with about/index.html (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, '/about')
    assert.equal(res.status, 200)
    assert.equal(res.text, '<!doctype html><title>about</title>')
    assert.equal(res.headers['cache-control'], 'no-cache')
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  })

  test(`HEAD answers the GET headers without a body (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, '/assets/index-BX7k2QzA.css', {}, 'HEAD')
    assert.equal(res.status, 200)
    assert.equal(res.body.length, 0)
    assert.equal(res.headers['content-length'], String(CSS.length))
    assert.equal(res.headers['cache-control'], IMMUTABLE)
  })
}

test("@fastify/static's own Cache-Control never reaches the wire, even where it would be sent", async (t) => {
  const site = makeSite(t)
  // Without cacheControl: false, @fastify/send would send `public, max-age=0` on every file and
  // replace anything set before it (fastify/fastify-static#477, #508).
  const { base } = await serve(t, { root: site.root }, (app) => {
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=0')
    })
  })
  for (const path of ['/logo-dark.svg', '/index.html', '/assets/index-D1a2b3c4.js']) {
    const res = await rawRequest(base, path)
    assert.notEqual(res.headers['cache-control'], 'public, max-age=0', path)
  }
  assert.equal((await rawRequest(base, '/logo-dark.svg')).headers['cache-control'], SHORT)
})

test('an onSend hook may still replace the header on purpose (it runs after the plugin)', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, hotCache: true }, (app) => {
    app.addHook('onSend', async (request, reply, payload) => {
      if (request.url === '/logo-dark.svg') reply.header('cache-control', 'no-store')
      return payload
    })
  })
  assert.equal((await rawRequest(base, '/logo-dark.svg')).headers['cache-control'], 'no-store')
})

test("@fastify/static's cache options are refused with a pointer to rules", async (t) => {
  const site = makeSite(t)
  for (const key of ['maxAge', 'immutable', 'cacheControl', 'setHeaders', 'preCompressed']) {
    const app = buildApp(t)
    app.register(fastifyPerfStatic, {
      root: site.root,
      [key]: key === 'setHeaders' ? () => {} : 1000,
    } as never)
    await assert.rejects(
      async () => {
        await app.ready()
      },
      (error: Error & { code?: string }) => {
        assert.ok(error instanceof FST_PERF_STATIC_INVALID_OPTION)
        assert.ok(error instanceof TypeError)
        assert.match(error.message, new RegExp(`"${key}": not an option of @fastify-perf/static`))
        return true
      },
    )
  }
})

test('a root that does not exist or is a file fails registration with FST_PERF_STATIC_INVALID_ROOT', async (t) => {
  const site = makeSite(t)
  for (const root of [`${site.root}/missing`, `${site.root}/index.html`]) {
    const app = buildApp(t)
    app.register(fastifyPerfStatic, { root })
    await assert.rejects(
      async () => {
        await app.ready()
      },
      (error: Error & { code?: string }) => {
        assert.ok(error instanceof FST_PERF_STATIC_INVALID_ROOT)
        assert.equal(error.code, 'FST_PERF_STATIC_INVALID_ROOT')
        return true
      },
    )
  }
})

test('prefix: files are served under it, and only under it; routes elsewhere are untouched', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, prefix: '/static' }, (app) => {
    app.get('/api/ping', async () => ({ pong: true }))
  })
  assert.equal((await rawRequest(base, '/static/logo-dark.svg')).status, 200)
  assert.equal((await rawRequest(base, '/static/')).headers['cache-control'], 'no-cache')
  assert.equal((await rawRequest(base, '/logo-dark.svg')).status, 404)
  assert.equal((await rawRequest(base, '/api/ping')).text, '{"pong":true}')
})

test('a root given as a file: URL works', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: new URL(`file://${site.root}/`) })
  assert.equal((await rawRequest(base, '/logo-dark.svg')).status, 200)
})

test('two registrations (two roots) and an app-level @fastify/static coexist, each with its own headers', async (t) => {
  const site = makeSite(t)
  const other = makeSite(t, { 'other.txt': 'other' })
  // The app's @fastify/static owns reply.sendFile here: both registrations leave it alone.
  const { base } = await serve(t, { root: site.root, prefix: '/a', decorateReply: false }, async (app) => {
    await app.register(fastifyStatic, { root: other.root, prefix: '/plain/' })
    await app.register(fastifyPerfStatic, {
      root: other.root,
      prefix: '/b',
      decorateReply: false,
      rules: [{ match: '*.txt', cacheControl: 'public, max-age=5' }],
    })
    app.get('/send', (_request, reply) => reply.sendFile('other.txt'))
  })
  assert.equal((await rawRequest(base, '/a/logo-dark.svg')).headers['cache-control'], SHORT)
  assert.equal((await rawRequest(base, '/b/other.txt')).headers['cache-control'], 'public, max-age=5')
  // The app's own @fastify/static keeps its own behaviour and decorator.
  assert.equal((await rawRequest(base, '/plain/other.txt')).headers['cache-control'], 'public, max-age=0')
  assert.equal((await rawRequest(base, '/send')).text, 'other')
})

test('index: a directory URL serves its index file; index: false answers 404; several names are tried in order', async (t) => {
  const site = makeSite(t, { 'index.htm': 'htm', 'docs/default.html': 'default', 'docs/index.html': 'index' })
  {
    const { base } = await serve(t, { root: site.root, index: ['default.html', 'index.htm'] })
    assert.equal((await rawRequest(base, '/')).text, 'htm')
    assert.equal((await rawRequest(base, '/docs/')).text, 'default')
  }
  {
    const { base } = await serve(t, { root: site.root, index: false })
    assert.equal((await rawRequest(base, '/docs/')).status, 404)
  }
})

for (const hotCache of [false, true]) {
  test(`spaFallback serves index.html for navigations, never for missing assets (${hotCache ? 'memory' : 'disk'})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache, spaFallback: 'index.html' })
    const navigation = await rawRequest(base, '/products/42', { accept: 'text/html,application/xhtml+xml' })
    assert.equal(navigation.status, 200)
    assert.match(navigation.text, /<title>app<\/title>/)
    assert.equal(navigation.headers['cache-control'], 'no-cache')
    assert.equal((await rawRequest(base, '/products/42')).status, 200, 'no Accept header')
    // A missing asset stays a 404 (no HTML where a script was expected).
    const asset = await rawRequest(base, '/assets/missing-D1a2b3c4.js', { accept: '*/*' })
    assert.equal(asset.status, 404)
    // A client that wants JSON gets a 404, not the app shell.
    assert.equal((await rawRequest(base, '/api-like/thing', { accept: 'application/json' })).status, 404)
    // Existing files are still themselves.
    assert.equal((await rawRequest(base, '/about/')).text, '<!doctype html><title>about</title>')
  })
}
