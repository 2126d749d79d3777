// Unit tests of the HTTP rules implemented by hand: Accept-Encoding ranking, conditional requests,
// byte ranges, request-path checks.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ifNoneMatchMatches,
  ifRangeHolds,
  notModifiedSince,
  parseRange,
  UNSATISFIABLE,
} from '../src/conditional.js'
import { EncodingNegotiator, rankEncodings } from '../src/negotiate.js'
import { FORBIDDEN, NOT_FOUND, resolveRequestPath } from '../src/request-path.js'

const ALL = ['br', 'zstd', 'gzip'] as const

test('rankEncodings: q-values first, server order on ties, identity and * per RFC 9110 §12.5.3', () => {
  const cases: [string, string[]][] = [
    ['gzip, deflate, br, zstd', ['br', 'zstd', 'gzip']],
    ['gzip;q=1.0, br;q=0.5', ['gzip', 'br']],
    ['GZIP;Q=0.8', ['gzip']],
    ['br;q=0', []],
    ['*', ['br', 'zstd', 'gzip']],
    ['*;q=0.5, br;q=0', ['zstd', 'gzip']],
    ['*;q=0', []],
    ['identity', []],
    ['identity;q=0.5, gzip;q=0.7, br;q=0.3', ['gzip']],
    ['gzip;q=0.001', ['gzip']],
    ['gzip;q=1.5', []],
    ['gzip;q=0.1234', []],
    ['br, br;q=0', ['br']],
    ['x-gzip', ['gzip']],
    [' , ;q=1, br ', ['br']],
  ]
  for (const [header, expected] of cases) assert.deepEqual(rankEncodings(header, ALL), expected, header)
  assert.deepEqual(rankEncodings('br, gzip', ['gzip', 'br']), ['gzip', 'br'])
})

test('the negotiator remembers a bounded number of header values and returns the same frozen list', () => {
  const negotiator = new EncodingNegotiator(ALL)
  const first = negotiator.rank('gzip, br')
  assert.equal(negotiator.rank('gzip, br'), first)
  assert.ok(Object.isFrozen(first))
  for (let i = 0; i < 1000; i++) negotiator.rank(`gzip;q=0.${i % 1000}`)
  assert.deepEqual(negotiator.rank(undefined), [])
  assert.deepEqual(new EncodingNegotiator([]).rank('br'), [])
})

test('If-None-Match: weak comparison, lists, *', () => {
  assert.ok(ifNoneMatchMatches('"a"', '"a"'))
  assert.ok(ifNoneMatchMatches('W/"a"', '"a"'))
  assert.ok(ifNoneMatchMatches('"a"', 'W/"a"'))
  assert.ok(ifNoneMatchMatches('"x", "a"', '"a"'))
  assert.ok(ifNoneMatchMatches('*', '"a"'))
  assert.ok(!ifNoneMatchMatches('"b"', '"a"'))
  assert.ok(!ifNoneMatchMatches('a', '"a"'))
})

test('If-Modified-Since and If-Range', () => {
  const lastModified = 'Sun, 01 Nov 2026 10:00:00 GMT'
  const ms = Date.parse(lastModified)
  assert.ok(notModifiedSince(lastModified, ms))
  assert.ok(notModifiedSince('Sun, 01 Nov 2026 10:00:01 GMT', ms))
  assert.ok(!notModifiedSince('Sun, 01 Nov 2026 09:59:59 GMT', ms))
  assert.ok(!notModifiedSince('garbage', ms))
  assert.ok(ifRangeHolds('"a"', '"a"', lastModified))
  assert.ok(!ifRangeHolds('"a"', 'W/"a"', lastModified), 'If-Range needs a strong match')
  assert.ok(!ifRangeHolds('W/"a"', '"a"', lastModified))
  assert.ok(ifRangeHolds(lastModified, '"a"', lastModified))
  assert.ok(!ifRangeHolds('Sun, 01 Nov 2026 10:00:01 GMT', '"a"', lastModified))
})

test('parseRange: single ranges, suffixes, clamping, unsatisfiable and ignored forms', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 })
  assert.deepEqual(parseRange('bytes=50-1000', 100), { start: 50, end: 99 })
  assert.deepEqual(parseRange('Bytes = 1 - 2', 100), { start: 1, end: 2 })
  assert.equal(parseRange('bytes=100-', 100), UNSATISFIABLE)
  assert.equal(parseRange('bytes=-0', 100), UNSATISFIABLE)
  assert.equal(parseRange('bytes=0-', 0), UNSATISFIABLE)
  assert.equal(parseRange('bytes=5-1', 100), undefined)
  assert.equal(parseRange('bytes=0-1,2-3', 100), undefined)
  assert.equal(parseRange('bytes=-', 100), undefined)
  assert.equal(parseRange('lines=0-1', 100), undefined)
})

test('resolveRequestPath: canonical paths pass decoded, everything else is refused', () => {
  const ok: [string, string][] = [
    ['/app.js', '/app.js'],
    ['/app.js?v=1', '/app.js'],
    ['/', '/'],
    ['/docs/', '/docs/'],
    ['/my%20file.txt', '/my file.txt'],
    ['/a..b', '/a..b'],
    ['/static/app.js', '/app.js'],
  ]
  for (const [url, expected] of ok) {
    const prefix = url.startsWith('/static/') ? '/static/' : '/'
    assert.equal(resolveRequestPath(url, prefix, 'ignore'), expected, url)
  }
  const refused: [string, number][] = [
    ['/../x', FORBIDDEN],
    ['/a/..', FORBIDDEN],
    ['/./x', FORBIDDEN],
    ['/a/.', FORBIDDEN],
    ['//x', FORBIDDEN],
    ['/a//b', FORBIDDEN],
    ['/%2e%2e/x', FORBIDDEN],
    ['/a%2fb', FORBIDDEN],
    ['/a%5Cb', FORBIDDEN],
    ['/a\\b', FORBIDDEN],
    ['/a%00', FORBIDDEN],
    ['/%252e', FORBIDDEN],
    ['/%E0%A4%A', FORBIDDEN],
    ['/.env', NOT_FOUND],
    ['/a/.git/config', NOT_FOUND],
    ['/%2eenv', NOT_FOUND],
    ['/other', NOT_FOUND],
  ]
  for (const [url, status] of refused) {
    assert.equal(resolveRequestPath(url, url === '/other' ? '/static/' : '/', 'ignore'), status, url)
  }
  assert.equal(resolveRequestPath('/.env', '/', 'deny'), FORBIDDEN)
  assert.equal(resolveRequestPath('/.well-known/x', '/', 'allow'), '/.well-known/x')
  assert.equal(resolveRequestPath('/.well-known/../x', '/', 'allow'), FORBIDDEN)
})
