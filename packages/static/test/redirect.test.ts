import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fastifyPerfStatic } from '@fastify-perf/static'
import { buildApp, listen } from '@fastify-perf/test-helpers'
import { makeSite, rawRequest, serve } from './fixtures.js'

// `redirect` (issue 17): `/docs` -> 301 `/docs/`, as @fastify/static users know it.

for (const hotCache of [false, true]) {
  const from = hotCache ? 'memory' : 'disk'

  test(`redirect: true answers a directory without its slash with a 301 that keeps the query (${from})`, async (t) => {
    const site = makeSite(t)
    site.write('docs/v1.2/index.html', 'versioned')
    const { base } = await serve(t, { root: site.root, hotCache, redirect: true })
    const cases: [string, string][] = [
      ['/about', '/about/'],
      ['/about?tab=team&x=%20y', '/about/?tab=team&x=%20y'],
      ['/docs/v1.2', '/docs/v1.2/'],
      // A directory without an index is redirected too (then 404s), as @fastify/static does.
      ['/assets', '/assets/'],
    ]
    for (const [path, location] of cases) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 301, path)
      assert.equal(res.headers.location, location, path)
      // A redirect is not a file: none of a file's lifetime.
      assert.equal(res.headers['cache-control'], undefined, path)
      assert.equal((await rawRequest(base, path, {}, 'HEAD')).status, 301, `HEAD ${path}`)
    }
    const index = await rawRequest(base, '/about/')
    assert.equal(index.status, 200)
    assert.equal(index.text, '<!doctype html><title>about</title>')
    assert.equal((await rawRequest(base, '/docs/v1.2/')).text, 'versioned')
    // Files are files: no redirect.
    assert.equal((await rawRequest(base, '/logo-dark.svg')).status, 200)
    assert.equal((await rawRequest(base, '/missing')).status, 404)
  })

  test(`redirect: false (the default) answers /about with the index of /about/, no 301 (${from})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    const res = await rawRequest(base, '/about')
    assert.equal(res.status, 200)
    assert.equal(res.headers.location, undefined)
    assert.equal(res.text, '<!doctype html><title>about</title>')
    assert.equal(res.headers['cache-control'], 'no-cache')
  })
}

test('redirect never points to another host: //evil.com-style paths are refused, not redirected', async (t) => {
  const site = makeSite(t)
  // A real directory with a host-like name, so a careless redirect would have something to act on.
  site.write('evil.com/index.html', 'local')
  const { base } = await serve(t, { root: site.root, redirect: true })
  const attempts = [
    '//evil.com',
    '//evil.com/',
    '///evil.com',
    '/\\evil.com',
    '/%2F%2Fevil.com',
    '/%2fevil.com',
    '/%5C%5Cevil.com',
    '//evil.com?x=1',
    '//evil.com/%2e%2e',
    '/./evil.com',
    '/about/..//evil.com',
  ]
  for (const path of attempts) {
    const res = await rawRequest(base, path)
    assert.notEqual(res.status, 301, path)
    assert.equal(res.headers.location, undefined, path)
  }
  // The local directory itself is redirected to itself, as a path.
  const local = await rawRequest(base, '/evil.com?x=1')
  assert.equal(local.status, 301)
  assert.equal(local.headers.location, '/evil.com/?x=1')
})

test('redirect with a prefix: /static redirects to /static/, under a Fastify prefix too', async (t) => {
  const site = makeSite(t)
  const app = buildApp(t)
  await app.register(fastifyPerfStatic, { root: site.root, prefix: '/static', redirect: true })
  await app.register(
    async (scope) => {
      await scope.register(fastifyPerfStatic, { root: site.root, redirect: true, decorateReply: false })
    },
    { prefix: '/v2' },
  )
  const base = await listen(app)
  const cases: [string, string][] = [
    ['/static', '/static/'],
    ['/static?x=1', '/static/?x=1'],
    ['/static/about', '/static/about/'],
    ['/v2', '/v2/'],
    ['/v2/about?x=1', '/v2/about/?x=1'],
  ]
  for (const [path, location] of cases) {
    const res = await rawRequest(base, path)
    assert.equal(res.status, 301, path)
    assert.equal(res.headers.location, location, path)
  }
  assert.equal((await rawRequest(base, '/static/')).headers['cache-control'], 'no-cache')
  assert.equal((await rawRequest(base, '/v2/logo-dark.svg')).status, 200)
  assert.equal((await rawRequest(base, '/v2/about/')).text, '<!doctype html><title>about</title>')
})

test('without redirect, the prefix without its slash is not a route', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, prefix: '/static' })
  assert.equal((await rawRequest(base, '/static')).status, 404)
})
