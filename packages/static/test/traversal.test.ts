import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeSite, OUTSIDE_SECRET, rawRequest, serve } from './fixtures.js'

// Every path is sent byte for byte (rawRequest), as an attacker would, not as a browser normalises
// it. `secret.txt` sits next to the root, `.env` inside it.
const ATTEMPTS: readonly string[] = [
  '/../secret.txt',
  '/assets/../../secret.txt',
  '/%2e%2e/secret.txt',
  '/%2E%2E/secret.txt',
  '/%2e%2e%2fsecret.txt',
  '/..%2fsecret.txt',
  '/assets/..%2f..%2fsecret.txt',
  '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
  // double encoding: decoded once it is still an escape, which a second decode would act on
  '/%252e%252e/secret.txt',
  '/%252e%252e%252fsecret.txt',
  '/assets/%252e%252e%252f%252e%252e%252fsecret.txt',
  // backslashes, raw and encoded
  '/..\\secret.txt',
  '/assets\\..\\..\\secret.txt',
  '/..%5csecret.txt',
  '/..%5Csecret.txt',
  // NUL
  '/secret.txt%00',
  '/logo-dark.svg%00.html',
  '/%00../secret.txt',
  // absolute paths and empty segments
  '//secret.txt',
  '//etc/passwd',
  '/%2fetc%2fpasswd',
  '/etc/passwd',
  // `.` segments and non-canonical spellings of existing files
  '/./logo-dark.svg',
  '/assets/./index-D1a2b3c4.js',
  '/assets/%2e/index-D1a2b3c4.js',
  '/assets//index-D1a2b3c4.js',
  // overlong UTF-8 for "." (does not decode)
  '/%c0%ae%c0%ae/secret.txt',
  // dotfiles, plain and encoded
  '/.env',
  '/%2eenv',
  '/%2Eenv',
  '/.git/config',
  '/.well-known/security.txt',
  '/assets/../.env',
]

for (const hotCache of [false, true]) {
  test(`traversal and dotfile attempts are refused, nothing outside the root is ever sent (${hotCache ? 'memory' : 'disk'})`, async (t) => {
    const site = makeSite(t)
    const { base } = await serve(t, { root: site.root, hotCache })
    for (const path of ATTEMPTS) {
      const res = await rawRequest(base, path)
      assert.ok([400, 403, 404].includes(res.status), `${path} -> ${res.status}`)
      assert.ok(!res.text.includes(OUTSIDE_SECRET), `${path} leaked the file outside the root`)
      assert.ok(!res.text.includes('SECRET=dotfile'), `${path} leaked a dotfile`)
      assert.equal(res.headers['cache-control'], undefined, `${path} carries a cache policy`)
    }
  })
}

test('refusals are coded: 403 FST_PERF_STATIC_FORBIDDEN_PATH, dotfiles 404; undecodable URLs never reach the plugin', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root })
  const forbidden = await rawRequest(base, '/%2e%2e%2fsecret.txt')
  assert.equal(forbidden.status, 403)
  assert.equal(JSON.parse(forbidden.text).code, 'FST_PERF_STATIC_FORBIDDEN_PATH')
  for (const path of [
    '/%252e%252e/secret.txt',
    '/..%5csecret.txt',
    '/secret.txt%00',
    '/assets//index-D1a2b3c4.js',
  ]) {
    assert.equal((await rawRequest(base, path)).status, 403, path)
  }
  // Fastify's router refuses what does not decode, before any route runs.
  const bad = await rawRequest(base, '/%c0%ae%c0%ae/secret.txt')
  assert.equal(bad.status, 400)
  assert.equal(JSON.parse(bad.text).code, 'FST_ERR_BAD_URL')
  assert.equal((await rawRequest(base, '/.env')).status, 404)
})

test("dotfiles: 'deny' answers 403; 'allow' serves them (for /.well-known), traversal stays refused", async (t) => {
  const site = makeSite(t)
  {
    const { base } = await serve(t, { root: site.root, dotfiles: 'deny' })
    assert.equal((await rawRequest(base, '/.env')).status, 403)
    assert.equal((await rawRequest(base, '/.well-known/security.txt')).status, 403)
  }
  {
    const { base } = await serve(t, { root: site.root, dotfiles: 'allow', hotCache: true })
    const wellKnown = await rawRequest(base, '/.well-known/security.txt')
    assert.equal(wellKnown.status, 200)
    assert.equal(wellKnown.text, 'Contact: mailto:security@example.com')
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/.well-known/../../secret.txt']) {
      const res = await rawRequest(base, path)
      assert.equal(res.status, 403, path)
      assert.ok(!res.text.includes(OUTSIDE_SECRET))
    }
  }
})

test('under a prefix, the prefix cannot be climbed out of either', async (t) => {
  const site = makeSite(t)
  const { base } = await serve(t, { root: site.root, prefix: '/static/', hotCache: true }, (app) => {
    app.get('/admin/secret', async () => 'admin only')
  })
  for (const path of [
    '/static/../admin/secret',
    '/static/%2e%2e/admin/secret',
    '/static/..%2f..%2fsecret.txt',
  ]) {
    const res = await rawRequest(base, path)
    assert.ok([400, 403, 404].includes(res.status), `${path} -> ${res.status}`)
    assert.ok(!res.text.includes('admin only'), path)
    assert.ok(!res.text.includes(OUTSIDE_SECRET), path)
  }
})

test('ordinary names with dots, dashes, spaces and unicode are still served', async (t) => {
  const site = makeSite(t, {
    'a..b.txt': 'dots',
    'my file.txt': 'space',
    'café.txt': 'unicode',
    '..txt': 'odd',
  })
  for (const hotCache of [false, true]) {
    const { base } = await serve(t, { root: site.root, hotCache })
    assert.equal((await rawRequest(base, '/a..b.txt')).text, 'dots')
    assert.equal((await rawRequest(base, '/my%20file.txt')).text, 'space')
    assert.equal((await rawRequest(base, '/caf%C3%A9.txt')).text, 'unicode')
    // `..txt` is a dotfile name, not a `..` segment.
    assert.equal((await rawRequest(base, '/..txt')).status, 404)
  }
})
