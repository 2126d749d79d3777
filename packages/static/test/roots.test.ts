import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import {
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
  fastifyPerfStatic,
} from '@fastify-perf/static'
import { buildApp } from '@fastify-perf/test-helpers'
import { makeSite, OUTSIDE_SECRET, rawRequest, serve } from './fixtures.js'

// Several roots in one registration (issue 17): the first root that has the file serves it.

const SHORT = 'public, max-age=300, must-revalidate'

function twoSites(t: Parameters<typeof makeSite>[0]) {
  const first = makeSite(t, {
    'both.txt': 'from the first root',
    'index.html': 'first index',
    'app-D1a2b3c4.js': 'first app',
  })
  const second = makeSite(t, {
    'both.txt': 'from the second root',
    'second-only.txt': 'only in the second root',
    'app-D1a2b3c4.js': 'second app',
    'style.css': 'body{}',
    'style.css.gz': gzipSync('body{}'),
    'guide/index.html': 'second guide',
    'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
  })
  return { first, second }
}

for (const hotCache of [false, true]) {
  const from = hotCache ? 'memory' : 'disk'

  test(`root list: the first root that has the file wins; a file only in the second is served with its policy (${from})`, async (t) => {
    const { first, second } = twoSites(t)
    const { base } = await serve(t, {
      root: [first.root, second.root],
      hotCache,
      rules: [{ match: '/second-only.txt', cacheControl: 'public, max-age=5' }],
    })
    const both = await rawRequest(base, '/both.txt')
    assert.equal(both.text, 'from the first root')
    assert.equal(both.headers['cache-control'], SHORT)
    const only = await rawRequest(base, '/second-only.txt')
    assert.equal(only.status, 200)
    assert.equal(only.text, 'only in the second root')
    assert.equal(only.headers['cache-control'], 'public, max-age=5')
    const revalidated = await rawRequest(base, '/second-only.txt', {
      'if-none-match': only.headers.etag as string,
    })
    assert.equal(revalidated.status, 304)
    assert.equal(revalidated.headers['cache-control'], 'public, max-age=5')
    // Fingerprint rule, index files and precompressed siblings work in the second root too.
    const app = await rawRequest(base, '/app-D1a2b3c4.js')
    assert.equal(app.text, 'first app')
    assert.equal(app.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.equal((await rawRequest(base, '/')).text, 'first index')
    assert.equal((await rawRequest(base, '/guide/')).text, 'second guide')
    const css = await rawRequest(base, '/style.css', { 'accept-encoding': 'gzip' })
    assert.equal(css.headers['content-encoding'], 'gzip')
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8')
    assert.equal((await rawRequest(base, '/missing.txt')).status, 404)
    // Traversal is refused whatever the root.
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '//secret.txt']) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 403, path)
      assert.ok(!res.text.includes(OUTSIDE_SECRET), path)
    }
  })

  test(`root list: sendFile searches the roots in order, or the one root it names (${from})`, async (t) => {
    const { first, second } = twoSites(t)
    const { app } = await serve(t, { root: [first.root, second.root], hotCache }, (app) => {
      app.get('/both', (_request, reply) => reply.sendFile('both.txt'))
      app.get('/both-second', (_request, reply) => reply.sendFile('both.txt', second.root))
      app.get('/only-in-second', (_request, reply) => reply.sendFile('second-only.txt', first.root))
      app.get('/second', (_request, reply) => reply.sendFile('second-only.txt'))
    })
    assert.equal((await app.inject('/both')).body, 'from the first root')
    const pinned = await app.inject('/both-second')
    assert.equal(pinned.body, 'from the second root')
    assert.equal(pinned.headers['cache-control'], SHORT)
    assert.equal((await app.inject('/only-in-second')).statusCode, 404)
    assert.equal((await app.inject('/second')).body, 'only in the second root')
  })
}

test('root list with the hot cache: a path is cached as the file of the root that answered, never mixed with another root', async (t) => {
  const { first, second } = twoSites(t)
  const { base } = await serve(t, { root: [first.root, second.root], hotCache: { checkInterval: 100 } })
  const before = await rawRequest(base, '/both.txt')
  assert.equal(before.text, 'from the first root')
  // Gone from the first root: the second root's file takes over at the next check, with its own ETag.
  first.remove('both.txt')
  await sleep(150)
  const after = await rawRequest(base, '/both.txt')
  assert.equal(after.text, 'from the second root')
  assert.notEqual(after.headers.etag, before.headers.etag)
  // And back: a file that appears in the first root wins again.
  first.write('both.txt', 'first again')
  await sleep(150)
  assert.equal((await rawRequest(base, '/both.txt')).text, 'first again')
})

test('root list: a directory in the first root shadows a file of the same name in the second (as @fastify/static)', async (t) => {
  const { first, second } = twoSites(t)
  mkdirSync(join(first.root, 'logo.svg'))
  writeFileSync(join(first.root, 'logo.svg', 'index.html'), 'a directory')
  const { base } = await serve(t, { root: [first.root, second.root] })
  assert.equal((await rawRequest(base, '/logo.svg')).text, 'a directory')
  rmSync(join(first.root, 'logo.svg'), { recursive: true })
  assert.equal((await rawRequest(base, '/logo.svg')).headers['content-type'], 'image/svg+xml')
})

test('root list: every root is checked at register; a bad one is named', async (t) => {
  const { first, second } = twoSites(t)
  const cases: [unknown, new (...args: never[]) => Error, RegExp][] = [
    [
      [first.root, join(second.root, 'missing')],
      FST_PERF_STATIC_INVALID_ROOT,
      /\(root\[1\]\) cannot be read/,
    ],
    [
      [first.root, join(second.root, 'both.txt')],
      FST_PERF_STATIC_INVALID_ROOT,
      /\(root\[1\]\) is not a directory/,
    ],
    [[first.root, 'relative/dir'], FST_PERF_STATIC_INVALID_OPTION, /"root\[1\]": must be an absolute path/],
    [[first.root, 42], FST_PERF_STATIC_INVALID_OPTION, /"root\[1\]": is required/],
    [[], FST_PERF_STATIC_INVALID_OPTION, /"root": is an empty list/],
    [[first.root, `${first.root}/`], FST_PERF_STATIC_INVALID_OPTION, /"root\[1\]": lists .* a second time/],
  ]
  for (const [root, type, message] of cases) {
    const app = buildApp(t)
    app.register(fastifyPerfStatic, { root: root as string[] })
    await assert.rejects(
      async () => {
        await app.ready()
      },
      (error: Error) => {
        assert.ok(error instanceof type, `${String(root)}: ${error.message}`)
        assert.ok(error instanceof TypeError)
        assert.match(error.message, message)
        return true
      },
    )
  }
})

test('root list with watch: each root is watched, a change in the second root is seen at once', async (t) => {
  const { first, second } = twoSites(t)
  const { base } = await serve(t, {
    root: [first.root, second.root],
    hotCache: { checkInterval: '1h', watch: true },
  })
  assert.equal((await rawRequest(base, '/second-only.txt')).text, 'only in the second root')
  second.write('second-only.txt', 'changed in the second root')
  const deadline = Date.now() + 5000
  let served = await rawRequest(base, '/second-only.txt')
  while (served.text !== 'changed in the second root' && Date.now() < deadline) {
    await sleep(20)
    served = await rawRequest(base, '/second-only.txt')
  }
  assert.equal(served.text, 'changed in the second root')
})
