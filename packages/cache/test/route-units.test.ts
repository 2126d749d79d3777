import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  NO_DIRECTIVES,
  parseCacheControl,
  parseTargetedField,
  requestNoCache,
  responseDirectives,
} from '../src/route/cache-control.js'
import { CacheStatus, ttlSeconds } from '../src/route/cache-status.js'
import { isNotModified, parseEntityTags, weakMatch } from '../src/route/conditional.js'
import { computeFreshness, parseAge } from '../src/route/freshness.js'
import { parseHttpDate } from '../src/route/http-date.js'
import {
  compileQueryFilter,
  lp,
  normalizeQuery,
  sameOriginTarget,
  UrlKeyMemo,
  urlKey,
} from '../src/route/key.js'
import {
  bypassReason,
  heuristicAllowed,
  notStoredReason,
  type ResponseFacts,
  STORABLE_STATUSES,
} from '../src/route/policy.js'
import {
  CachedResponse,
  decodeStored,
  encodeResponse,
  encodeVariantRecord,
  VariantRecord,
} from '../src/route/response-codec.js'
import { resolveRouteConfig, resolveRouteOptions } from '../src/route/route-options.js'
import { surrogateHeader } from '../src/route/surrogate-keys.js'
import {
  normalizeAcceptEncoding,
  normalizeHeader,
  parseVary,
  VARY_TOO_LARGE,
  varySuffix,
} from '../src/route/vary.js'

test('Cache-Control: case-insensitive names, quoted values, spacing, duplicates take the most restrictive', () => {
  const cc = parseCacheControl('Public, MAX-AGE="60",  s-maxage = 30 ,no-transform, max-age=120')
  assert.equal(cc.public, true)
  assert.equal(cc.maxAge, 60)
  assert.equal(cc.sMaxAge, 30)
  assert.equal(cc.noTransform, true)
  assert.equal(parseCacheControl(['max-age=10', 'NO-STORE']).noStore, true)
  assert.equal(parseCacheControl('private="set-cookie", max-age=5').private, true)
  assert.equal(parseCacheControl('no-cache="x-a, x-b", max-age=5').noCache, true)
  assert.equal(parseCacheControl('no-cache="x-a, x-b", max-age=5').maxAge, 5)
  // Invalid values resolve towards less caching.
  assert.equal(parseCacheControl('max-age=soon').maxAge, 0)
  assert.equal(parseCacheControl('max-age=-1').maxAge, 0)
  assert.equal(parseCacheControl('stale-while-revalidate=x').staleWhileRevalidate, 0)
  assert.equal(parseCacheControl('max-age=99999999999').maxAge, 2147483648)
  assert.equal(parseCacheControl('min-fresh=5, min-fresh=10').minFresh, 10)
  assert.equal(parseCacheControl('max-stale').maxStale, Number.POSITIVE_INFINITY)
  assert.equal(parseCacheControl('max-stale=5, max-stale').maxStale, 5)
  assert.equal(parseCacheControl('must-revalidate, proxy-revalidate').proxyRevalidate, true)
  assert.equal(parseCacheControl('only-if-cached').onlyIfCached, true)
  assert.equal(parseCacheControl(undefined), NO_DIRECTIVES)
  assert.equal(parseCacheControl(''), NO_DIRECTIVES)
  assert.equal(parseCacheControl('stale-if-error=300, stale-while-revalidate=60').staleIfError, 300)
  assert.equal(parseCacheControl('unknown-ext="a,b", max-age=7').maxAge, 7)
})

test('targeted fields (RFC 9213): Structured Fields Dictionaries; invalid ones are ignored', () => {
  const cdn = parseTargetedField('max-age=3600, stale-if-error=60;x=1, public')!
  assert.equal(cdn.maxAge, 3600)
  assert.equal(cdn.staleIfError, 60)
  assert.equal(cdn.public, true)
  assert.equal(parseTargetedField('foobar, max-age=10')!.maxAge, 10)
  assert.equal(parseTargetedField(['no-store', 'max-age=5'])!.noStore, true)
  assert.equal(parseTargetedField('max-age=99999999999')!.maxAge, 2147483648)
  assert.equal(parseTargetedField('no-store=?0')!.noStore, false)
  assert.equal(parseTargetedField('x="a,b", y=(1 2);p, z=:aGk=:, w=1.5, max-age=7')!.maxAge, 7)
  // Wrong types count as 0 (the least caching), like an invalid value in Cache-Control.
  assert.equal(parseTargetedField('max-age="10000"')!.maxAge, 0)
  assert.equal(parseTargetedField('max-age=-5')!.maxAge, 0)
  assert.equal(parseTargetedField('max-age=1.5')!.maxAge, 0)
  for (const invalid of [
    undefined,
    '',
    '   ',
    'max-age =100',
    'max-age= 100',
    'MaX-aGe=3600',
    'max-age=10000, &&&&&',
    'max-age=10,',
    'max-age=1234567890123456',
    'x="unterminated',
    'a=1;',
  ]) {
    assert.equal(parseTargetedField(invalid), undefined, String(invalid))
  }
  // Precedence: own field, CDN-Cache-Control, Cache-Control; an invalid one falls through.
  const headers = {
    'cache-control': 'max-age=1',
    'cdn-cache-control': 'max-age=2',
    'own-cache-control': 'max-age=3',
  }
  assert.equal(responseDirectives(headers, 'own-cache-control').cc.maxAge, 3)
  assert.equal(responseDirectives(headers, undefined).cc.maxAge, 2)
  assert.equal(
    responseDirectives({ ...headers, 'own-cache-control': 'max-age =3' }, 'own-cache-control').cc.maxAge,
    2,
  )
  const plain = responseDirectives({ ...headers, 'cdn-cache-control': 'x=' }, undefined)
  assert.deepEqual([plain.cc.maxAge, plain.targeted], [1, false])
})

test('Age: the first value of a list or of several lines, whole seconds only', () => {
  assert.equal(parseAge('7200, 0'), 7200)
  assert.equal(parseAge('0, 7200'), 0)
  assert.equal(parseAge(['7200', '0']), 7200)
  assert.equal(parseAge(' 30 '), 30)
  for (const invalid of [undefined, '', 'abc', '-7200', '7200.0', '7200;foo=bar', ', 5']) {
    assert.equal(parseAge(invalid), 0, String(invalid))
  }
})

test('request no-cache: Cache-Control no-cache, or Pragma no-cache only without Cache-Control (RFC 9111 §5.4)', () => {
  assert.equal(requestNoCache(parseCacheControl('no-cache'), true, undefined), true)
  assert.equal(requestNoCache(NO_DIRECTIVES, false, 'no-cache'), true)
  assert.equal(requestNoCache(NO_DIRECTIVES, false, 'x, No-Cache'), true)
  assert.equal(requestNoCache(parseCacheControl('max-age=5'), true, 'no-cache'), false)
  assert.equal(requestNoCache(NO_DIRECTIVES, false, undefined), false)
})

test('HTTP-date: the three forms of RFC 9110 §5.6.7, nothing else', () => {
  const ms = Date.UTC(1994, 10, 6, 8, 49, 37)
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), ms)
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), ms)
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), ms)
  for (const invalid of ['0', '-1', '2024-01-01', 'tomorrow', 'Sun, 06 Nov 1994 08:49:37 PST', '']) {
    assert.ok(Number.isNaN(parseHttpDate(invalid)), invalid)
    assert.ok(Number.isNaN(parseHttpDate(invalid, true)), invalid)
  }
  // Names in another case: only when asked (Expires), never for conditional requests.
  for (const text of [
    'SUN, 06 NOV 1994 08:49:37 gmt',
    'sunday, 06-nov-94 08:49:37 GMT',
    'SUN NOV  6 08:49:37 1994',
  ]) {
    assert.ok(Number.isNaN(parseHttpDate(text)), text)
    assert.equal(parseHttpDate(text, true), ms, text)
  }
})

test('freshness: route ttl, then s-maxage, max-age, Expires - Date; stale windows and what forbids them', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0)
  const date = new Date(now).toUTCString()
  const settings = { ttlMs: undefined, swrMs: undefined, sieMs: undefined, proxy: false }
  const f = (headers: Record<string, string>, extra = {}) =>
    computeFreshness(headers, parseCacheControl(headers['cache-control']), { ...settings, ...extra }, now)
  assert.equal(f({ 'cache-control': 'max-age=60, s-maxage=120' }).freshMs, 120_000)
  assert.equal(f({ 'cache-control': 'max-age=60' }).freshMs, 60_000)
  assert.equal(f({ date, expires: new Date(now + 30_000).toUTCString() }).freshMs, 30_000)
  assert.equal(f({ date, expires: '0' }).hasFreshness, false)
  assert.equal(f({}).hasFreshness, false)
  // Heuristic freshness only when allowed (policy.ts): 10% of Date - Last-Modified, at most a day.
  assert.equal(f({ 'last-modified': date }).hasFreshness, false)
  const dayAgo = new Date(now - 86_400_000).toUTCString()
  assert.equal(f({ 'last-modified': dayAgo }).source, 'none')
  const h = f({ date, 'last-modified': dayAgo }, { heuristic: true })
  assert.deepEqual([h.source, h.freshMs, h.hasFreshness], ['heuristic', 8_640_000, true])
  const yearAgo = new Date(now - 365 * 86_400_000).toUTCString()
  assert.equal(f({ date, 'last-modified': yearAgo }, { heuristic: true }).freshMs, 86_400_000)
  assert.equal(f({ date, 'last-modified': date }, { heuristic: true }).hasFreshness, false)
  assert.equal(f({ date, 'last-modified': dayAgo, expires: '0' }, { heuristic: true }).source, 'response')
  assert.equal(
    f({ 'cache-control': 'max-age=5', 'last-modified': dayAgo }, { heuristic: true }).freshMs,
    5000,
  )
  assert.equal(f({ 'last-modified': dayAgo }, { heuristic: true, ttlMs: 1000 }).source, 'route')
  // Expires in any case; ignored under a targeted field (RFC 9213 §2.2).
  const upper = new Date(now + 30_000).toUTCString().toUpperCase()
  assert.equal(f({ date, expires: upper }).freshMs, 30_000)
  assert.equal(f({ date, expires: upper }, { targeted: true }).source, 'none')
  assert.equal(f({ 'cache-control': 'max-age=60' }, { ttlMs: 5000 }).freshMs, 5000)
  const stale = f({ 'cache-control': 'max-age=60, stale-while-revalidate=30, stale-if-error=600' })
  assert.equal(stale.swrMs, 30_000)
  assert.equal(stale.sieMs, 600_000)
  assert.equal(f({ 'cache-control': 'max-age=60, stale-while-revalidate=30' }, { swrMs: 1000 }).swrMs, 1000)
  for (const forbid of ['must-revalidate', 'proxy-revalidate', 's-maxage=60', 'no-cache']) {
    const r = f({ 'cache-control': `max-age=60, ${forbid}, stale-while-revalidate=30, stale-if-error=30` })
    assert.equal(r.noStale, true, forbid)
    assert.equal(r.swrMs + r.sieMs, 0, forbid)
  }
  // Proxy mode: Age counts (integers only), and so does the apparent age from Date.
  const proxy = { proxy: true }
  assert.equal(f({ 'cache-control': 'max-age=60', age: '20', date }, proxy).freshMs, 40_000)
  assert.equal(f({ 'cache-control': 'max-age=60', age: '20.5', date }, proxy).initialAgeSec, 0)
  assert.equal(f({ 'cache-control': 'max-age=60', age: 'soon', date }, proxy).initialAgeSec, 0)
  const old = new Date(now - 10_000).toUTCString()
  assert.equal(f({ 'cache-control': 'max-age=60', date: old }, proxy).initialAgeSec, 10)
  assert.equal(f({ 'cache-control': 'max-age=60', age: '100', date }, proxy).hasFreshness, false)
  // In-app, we are the origin: no age.
  assert.equal(f({ 'cache-control': 'max-age=60', age: '20' }).freshMs, 60_000)
})

test('keys: length-prefixed components, so no two different requests share one', () => {
  const none = compileQueryFilter([])
  assert.equal(lp('abc'), '3:abc')
  assert.equal(urlKey('Example.COM', '/a?b=1', none), 'G11:example.com2:/a3:b=1')
  // Joined naively ("host" + "path") these would collide; length prefixes keep them apart.
  assert.notEqual(urlKey('a.com', '/b/c', none), urlKey('a.com/b', '/c', none))
  assert.notEqual(urlKey('h', '/a?x=1', none), urlKey('h', '/a%3Fx=1', none))
  // The raw path is the key: no decoding, no dot-segment or slash normalization.
  const distinct = ['/a/b', '/a%2Fb', '/a/../b', '/a/%2E%2E/b', '/b', '/a//b', '/a;b', '/a/b;x=1', '/A/b']
  const keys = new Set(distinct.map((path) => urlKey('h', path, none)))
  assert.equal(keys.size, distinct.length)
  // "/" and "/?" are the same request to Fastify's parser.
  assert.equal(urlKey('h', '/a', none), urlKey('h', '/a?', none))
  assert.equal(urlKey('h', '/a?&&', none), urlKey('h', '/a', none))
})

test('query: split on & only (like Fastify), ignored names dropped, sorted stably by raw name', () => {
  const filter = compileQueryFilter(['utm_*', 'fbclid'])
  assert.equal(normalizeQuery('b=2&a=1&utm_source=x&fbclid=y', filter), 'a=1&b=2')
  assert.equal(normalizeQuery('a=2&b=1&a=1', filter), 'a=2&a=1&b=1')
  // Parameter cloaking: ';' is not a separator, so "utm_source=x;admin=1" is one (ignored) name
  // only if the app would see it as one: the app sees the name "utm_source" with value "x;admin=1".
  assert.equal(normalizeQuery('utm_source=x;admin=1&a=1', filter), 'a=1')
  assert.equal(normalizeQuery('a=1;utm_source=x', filter), 'a=1;utm_source=x')
  // Raw names: an encoded spelling is not the ignored name, so it stays in the key.
  assert.equal(normalizeQuery('utm%5Fsource=x', filter), 'utm%5Fsource=x')
  assert.equal(normalizeQuery('fbclidx=1', filter), 'fbclidx=1')
  assert.equal(normalizeQuery('a', filter), 'a')
  assert.notEqual(normalizeQuery('a=1', filter), normalizeQuery('a==1', filter))
  // Names the application decodes alike keep their order: `a=1&%61=2` is a: ['1', '2'].
  assert.notEqual(normalizeQuery('a=1&%61=2', filter), normalizeQuery('%61=2&a=1', filter))
  assert.notEqual(normalizeQuery('a+b=1&a%20b=2', filter), normalizeQuery('a%20b=2&a+b=1', filter))
  assert.equal(normalizeQuery('b=1&%61=2', filter), normalizeQuery('%61=2&b=1', filter))
  assert.equal(normalizeQuery('%zz=1&a=2', filter), normalizeQuery('a=2&%zz=1', filter))
})

test('same-origin Location / Content-Location targets (RFC 9111 §4.4)', () => {
  assert.equal(sameOriginTarget('/items/2?x=1', 'example.com'), '/items/2?x=1')
  assert.equal(sameOriginTarget('http://Example.com/items/2#top', 'example.com'), '/items/2')
  assert.equal(sameOriginTarget('https://example.com', 'example.com'), '/')
  assert.equal(sameOriginTarget('http://other.com/items/2', 'example.com'), undefined)
  assert.equal(sameOriginTarget('//other.com/items/2', 'example.com'), undefined)
  assert.equal(sameOriginTarget('items/2', 'example.com'), undefined)
})

test('Accept-Encoding: hundreds of spellings map to the set of codings the negotiator accepts', () => {
  assert.equal(normalizeAcceptEncoding('gzip, deflate, br'), 'br,deflate,gzip')
  // @fastify/compress reads `*` as gzip (and only gzip), as it negotiates.
  assert.equal(normalizeAcceptEncoding('br;q=1.0, gzip;q=0.8, *;q=0.1'), 'br,gzip')
  assert.equal(normalizeAcceptEncoding('GZIP'), 'gzip')
  assert.equal(normalizeAcceptEncoding('x-gzip'), 'gzip')
  assert.equal(normalizeAcceptEncoding('gzip;q=0, br'), 'br')
  assert.equal(normalizeAcceptEncoding('br, identity;q=0'), 'br')
  assert.equal(normalizeAcceptEncoding('*;q=0'), '')
  assert.equal(normalizeAcceptEncoding('br, *;q=0'), 'br')
  assert.equal(normalizeAcceptEncoding('identity'), 'identity')
  assert.equal(normalizeAcceptEncoding(''), '')
  assert.equal(normalizeAcceptEncoding('compress, sdch'), '')
  const spellings = new Set<string>()
  for (let i = 0; i < 500; i++) {
    const order = i % 2 === 0 ? 'gzip, br' : 'br,gzip'
    spellings.add(normalizeAcceptEncoding(`${order};q=0.${i % 10}, deflate;q=${(i % 7) / 10}, foo-${i}`))
  }
  assert.ok(spellings.size <= 4, `${spellings.size} variants`)
})

test('Vary values: names normalized, credentials hashed, case kept for unknown headers', () => {
  assert.deepEqual(parseVary('Accept-Encoding, accept-language , ACCEPT-ENCODING'), {
    names: ['accept-encoding', 'accept-language'],
    star: false,
  })
  assert.equal(parseVary('accept, *').star, true)
  assert.equal(normalizeHeader('accept-language', '  EN-us,  fr;q=0.5 '), 'en-us,fr;q=0.5')
  assert.equal(normalizeHeader('accept-language', 'en-us ,fr ; q=0.5,'), 'en-us,fr;q=0.5')
  assert.equal(normalizeHeader('x-api-version', ' Beta  2 '), 'Beta  2')
  assert.equal(normalizeHeader('x-list', ' alpha,   beta ,'), 'alpha,beta')
  // Inner whitespace is the value's own: a handler reading the header sees three different values.
  assert.notEqual(normalizeHeader('x-custom', 'a\tb'), normalizeHeader('x-custom', 'a b'))
  assert.notEqual(normalizeHeader('x-custom', 'abc  def'), normalizeHeader('x-custom', 'abc def'))
  assert.notEqual(normalizeHeader('accept-language', 'en  us'), normalizeHeader('accept-language', 'en us'))
  assert.notEqual(normalizeHeader('x-token', 'ABC'), normalizeHeader('x-token', 'abc'))
  const digest = normalizeHeader('authorization', 'Bearer secret')!
  assert.ok(!digest.includes('secret'))
  assert.notEqual(digest, normalizeHeader('authorization', 'Bearer SECRET'))
  // Absent and empty are different variants.
  assert.notEqual(varySuffix(['x-a'], {}, 100), varySuffix(['x-a'], { 'x-a': '' }, 100))
  assert.equal(varySuffix(['accept-language'], { 'accept-language': 'x'.repeat(101) }, 100), VARY_TOO_LARGE)
})

test('conditional requests: If-None-Match lists, *, weak comparison; If-Modified-Since', () => {
  assert.deepEqual(parseEntityTags('"a", W/"b",  "c,d"'), ['"a"', 'W/"b"', '"c,d"'])
  assert.equal(parseEntityTags('*'), '*')
  assert.equal(weakMatch('W/"x"', '"x"'), true)
  assert.equal(weakMatch('"x"', '"y"'), false)
  const stored = { etag: '"v1"', lastModifiedMs: Date.UTC(2026, 0, 1), dateMs: Date.UTC(2026, 0, 2) }
  assert.equal(isNotModified({ 'if-none-match': 'W/"v1"' }, stored), true)
  assert.equal(isNotModified({ 'if-none-match': '"v0", "v1"' }, stored), true)
  assert.equal(isNotModified({ 'if-none-match': '*' }, { ...stored, etag: undefined }), true)
  assert.equal(isNotModified({ 'if-none-match': '"v2"' }, stored), false)
  // If-None-Match present: If-Modified-Since is ignored (RFC 9110 §13.1.3).
  const later = new Date(Date.UTC(2026, 5, 1)).toUTCString()
  assert.equal(isNotModified({ 'if-none-match': '"v2"', 'if-modified-since': later }, stored), false)
  assert.equal(isNotModified({ 'if-modified-since': later }, stored), true)
  const earlier = new Date(Date.UTC(2025, 0, 1)).toUTCString()
  assert.equal(isNotModified({ 'if-modified-since': earlier }, stored), false)
  assert.equal(isNotModified({ 'if-modified-since': 'garbage' }, stored), false)
  // Without Last-Modified, the stored Date is compared.
  const noLm = { etag: undefined, lastModifiedMs: Number.NaN, dateMs: Date.UTC(2026, 0, 2) }
  assert.equal(
    isNotModified({ 'if-modified-since': new Date(Date.UTC(2026, 0, 2)).toUTCString() }, noLm),
    true,
  )
})

test('policy table: request bypass rules, response storability rules in their order', () => {
  const route = { allowAuthorization: false, allowCookie: false }
  assert.equal(bypassReason({}, route), undefined)
  assert.equal(bypassReason({ authorization: 'x' }, route), 'AUTHORIZATION')
  assert.equal(bypassReason({ authorization: 'x' }, { ...route, allowAuthorization: true }), undefined)
  assert.equal(bypassReason({ cookie: 'a=1' }, route), 'COOKIE')
  assert.equal(bypassReason({ 'content-length': '0' }, route), undefined)
  assert.equal(bypassReason({ 'content-length': '3' }, route), 'BODY')
  assert.equal(bypassReason({ 'transfer-encoding': 'chunked' }, route), 'BODY')
  for (const header of [
    'x-http-method-override',
    'x-http-method',
    'x-method-override',
    'x-original-url',
    'x-rewrite-url',
  ]) {
    assert.equal(bypassReason({ [header]: 'x' }, route), 'METHOD-OVERRIDE', header)
  }
  const ok: ResponseFacts = {
    status: 200,
    cacheControl: NO_DIRECTIVES,
    hasSetCookie: false,
    varyStar: false,
    size: 10,
    hasFreshness: true,
    freshnessSource: 'route',
  }
  const policy = { maxEntrySize: 100, proxy: false }
  assert.equal(notStoredReason(ok, policy, false), undefined)
  assert.equal(notStoredReason(ok, policy, true), 'BYPASS')
  assert.equal(
    notStoredReason({ ...ok, cacheControl: parseCacheControl('no-store') }, policy, false),
    'NO-STORE',
  )
  assert.equal(
    notStoredReason({ ...ok, cacheControl: parseCacheControl('private') }, policy, false),
    'PRIVATE',
  )
  assert.equal(
    notStoredReason({ ...ok, cacheControl: parseCacheControl('no-cache') }, policy, false),
    'NO-CACHE',
  )
  assert.equal(
    notStoredReason(
      { ...ok, cacheControl: parseCacheControl('no-cache'), hasFreshness: false },
      { ...policy, proxy: true },
      false,
    ),
    undefined,
  )
  assert.equal(notStoredReason({ ...ok, hasSetCookie: true }, policy, false), 'SET-COOKIE')
  assert.equal(notStoredReason({ ...ok, varyStar: true }, policy, false), 'VARY-STAR')
  assert.equal(notStoredReason({ ...ok, size: 101 }, policy, false), 'TOO-LARGE')
  assert.equal(notStoredReason({ ...ok, hasFreshness: false }, policy, false), 'NO-FRESHNESS')
  for (let status = 100; status < 600; status++) {
    const reason = notStoredReason({ ...ok, status }, policy, false)
    assert.equal(reason === undefined, STORABLE_STATUSES.has(status), String(status))
  }
  assert.deepEqual([...STORABLE_STATUSES], [200, 203, 204, 300, 301, 308, 404, 410])
  // The response's own freshness stores any final status but 206 and 304; a heuristic only with
  // public (or a status of the default set); must-understand only a status of the default set.
  const own: ResponseFacts = { ...ok, freshnessSource: 'response' }
  for (let status = 100; status < 600; status++) {
    const reason = notStoredReason({ ...own, status }, policy, false)
    assert.equal(reason === undefined, status >= 200 && status !== 206 && status !== 304, String(status))
  }
  const heuristic: ResponseFacts = { ...ok, freshnessSource: 'heuristic' }
  assert.equal(notStoredReason({ ...heuristic, status: 500 }, policy, false), 'STATUS')
  assert.equal(notStoredReason({ ...heuristic, status: 405 }, policy, false), 'STATUS')
  assert.equal(
    notStoredReason({ ...heuristic, status: 599, cacheControl: parseCacheControl('public') }, policy, false),
    undefined,
  )
  const understand = parseCacheControl('max-age=60, no-store, must-understand')
  assert.equal(notStoredReason({ ...own, cacheControl: understand }, policy, false), undefined)
  assert.equal(notStoredReason({ ...own, status: 599, cacheControl: understand }, policy, false), 'NO-STORE')
  assert.equal(
    notStoredReason(
      { ...own, status: 599, cacheControl: parseCacheControl('max-age=60, must-understand') },
      policy,
      false,
    ),
    'STATUS',
  )
  assert.equal(heuristicAllowed(200, NO_DIRECTIVES), true)
  assert.equal(heuristicAllowed(405, NO_DIRECTIVES), false)
  assert.equal(heuristicAllowed(405, parseCacheControl('public')), true)
  assert.equal(heuristicAllowed(206, parseCacheControl('public')), false)
  // The most explicit reason wins.
  assert.equal(
    notStoredReason(
      { ...ok, status: 500, cacheControl: parseCacheControl('no-store'), hasSetCookie: true },
      policy,
      false,
    ),
    'NO-STORE',
  )
})

test('Cache-Status strings (RFC 9211)', () => {
  const cs = new CacheStatus('fastify-perf')
  assert.equal(cs.hit(42), 'fastify-perf; hit; ttl=42')
  assert.equal(cs.staleWhileRevalidate(-3), 'fastify-perf; hit; ttl=-3; detail=STALE-WHILE-REVALIDATE')
  assert.equal(
    cs.staleIfError(503, -9),
    'fastify-perf; fwd=stale; fwd-status=503; ttl=-9; detail=STALE-IF-ERROR',
  )
  assert.equal(cs.stored('uri-miss'), 'fastify-perf; fwd=uri-miss; stored')
  assert.equal(cs.stored('vary-miss'), 'fastify-perf; fwd=vary-miss; stored')
  assert.equal(cs.stored('request'), 'fastify-perf; fwd=request; stored')
  assert.equal(cs.stored('stale', 304), 'fastify-perf; fwd=stale; fwd-status=304; stored')
  assert.equal(cs.notStored('uri-miss', 'NO-STORE'), 'fastify-perf; fwd=uri-miss; detail=NO-STORE')
  assert.equal(cs.notStored('uri-miss', undefined), 'fastify-perf; fwd=uri-miss')
  assert.equal(cs.collapsed, 'fastify-perf; fwd=uri-miss; collapsed')
  assert.equal(cs.bypass('COOKIE'), 'fastify-perf; fwd=bypass; detail=COOKIE')
  assert.equal(ttlSeconds(10_500, 10_000), 0)
  assert.equal(ttlSeconds(9_500, 10_000), -1)
  assert.equal(ttlSeconds(70_000, 10_000), 60)
})

test('CDN tag headers: separators, whole tags only, each provider limit', () => {
  assert.deepEqual(surrogateHeader('fastly', ['a', 'b']), ['surrogate-key', 'a b'])
  assert.deepEqual(surrogateHeader('cloudflare', ['a', 'b']), ['cache-tag', 'a,b'])
  assert.deepEqual(surrogateHeader('akamai', ['a', 'b:c', 'd']), ['edge-cache-tag', 'a,d'])
  assert.deepEqual(surrogateHeader('bunny', ['a', 'b c', 'd']), ['cdn-tag', 'a,d'])
  assert.equal(surrogateHeader('fastly', []), undefined)
  const many = Array.from({ length: 3000 }, (_, i) => `product-${i}`)
  const [, fastly] = surrogateHeader('fastly', many)!
  assert.ok(Buffer.byteLength(fastly) <= 16384)
  assert.deepEqual(fastly.split(' '), many.slice(0, fastly.split(' ').length))
  const [, cloudflare] = surrogateHeader('cloudflare', many)!
  assert.equal(cloudflare.split(',').length, 1000)
  const [, akamai] = surrogateHeader('akamai', [...many, 'x'.repeat(200)])!
  assert.equal(akamai.split(',').length, 128)
  assert.equal(surrogateHeader('akamai', ['x'.repeat(129)]), undefined)
})

test('stored responses and vary records round-trip through bytes; foreign bytes are misses', () => {
  const parts = {
    status: 203,
    flags: 1,
    dateMs: 1_700_000_000_000,
    initialAgeSec: 7,
    sieUntil: 1_700_000_600_000,
    pairs: [
      ['content-type', 'text/plain'],
      ['vary', 'accept'],
      ['x-multi', 'a'],
      ['x-multi', 'b'],
      ['etag', '"abc"'],
      ['cache-status', 'upstream; hit'],
    ] as Array<[string, string]>,
    body: Buffer.from([0, 1, 2, 255]),
  }
  const decoded = decodeStored(encodeResponse(parts))
  assert.ok(decoded instanceof CachedResponse)
  assert.equal(decoded.status, 203)
  assert.equal(decoded.initialAgeSec, 7)
  assert.deepEqual([...decoded.body], [0, 1, 2, 255])
  assert.deepEqual(decoded.headers['x-multi'], ['a', 'b'])
  assert.equal(decoded.headers['cache-status'], undefined)
  assert.equal(decoded.cacheStatusPrefix, 'upstream; hit, ')
  assert.deepEqual(decoded.notModifiedHeaders, { vary: 'accept', etag: '"abc"' })
  assert.equal(decoded.originEtag, undefined)
  assert.equal(decoded.variant, '')
  // A variant response carries the variant key it answers, so a reader can tell it from another
  // variant sharing its slot.
  const variant = decodeStored(encodeResponse({ ...parts, variant: 'h6:accept3:a/b' }))
  assert.ok(variant instanceof CachedResponse)
  assert.equal(variant.variant, 'h6:accept3:a/b')
  assert.deepEqual([...variant.body], [0, 1, 2, 255])
  assert.deepEqual(variant.headers['x-multi'], ['a', 'b'])
  const record = decodeStored(encodeVariantRecord(new VariantRecord(['accept', 'accept-language'], 'gen.1')))
  assert.ok(record instanceof VariantRecord)
  assert.deepEqual(record.names, ['accept', 'accept-language'])
  assert.equal(record.generation, 'gen.1')
  // The previous layout's vary record (kind 2) reads as nothing: one miss per URL after an upgrade.
  assert.equal(decodeStored(new Uint8Array([2, 0, 0, 0, 0])), undefined)
  assert.equal(decodeStored('a string'), undefined)
  assert.equal(decodeStored(new Uint8Array([9, 9, 9])), undefined)
  assert.equal(decodeStored(encodeResponse(parts).subarray(0, 30)), undefined)
})

test('route options: defaults, validation with coded errors naming the option and the route', () => {
  const defaults = resolveRouteOptions(undefined)
  assert.equal(defaults.cacheStatus, true)
  assert.equal(defaults.cacheStatusName, 'fastify-perf')
  assert.equal(defaults.maxEntrySize, 1024 * 1024)
  assert.equal(defaults.maxVariants, 32)
  assert.equal(defaults.maxVaryValueLength, 256)
  assert.equal(defaults.lockTimeoutMs, 5000)
  assert.equal(defaults.proxy, false)
  assert.equal(defaults.targetedField, undefined)
  assert.equal(
    resolveRouteOptions({ targetedField: 'Acme-Cache-Control' }).targetedField,
    'acme-cache-control',
  )
  assert.equal(resolveRouteOptions({ targetedField: false }).targetedField, undefined)
  assert.ok(Object.isFrozen(defaults))
  const bad: Array<[object, RegExp]> = [
    [{ nope: 1 }, /routes\.nope/],
    [{ cacheStatusName: 'has space' }, /cacheStatusName/],
    [{ ignoreQuery: 'utm_*' }, /ignoreQuery/],
    [{ maxVariants: 0 }, /maxVariants/],
    [{ maxVariants: 1025 }, /maxVariants.*1024/],
    [{ surrogateKeys: 'akamia' }, /surrogateKeys/],
    [{ proxy: 'yes' }, /proxy/],
    [{ lockTimeout: 0 }, /lockTimeout/],
    [{ targetedField: true }, /targetedField/],
    [{ targetedField: 'CDN-Cache-Control' }, /targetedField/],
    [{ targetedField: 'Cache-Control' }, /targetedField/],
    [{ targetedField: 'Content-Type' }, /targetedField/],
    [{ targetedField: 'Bad Name-Cache-Control' }, /targetedField/],
  ]
  for (const [options, message] of bad) {
    assert.throws(
      () => resolveRouteOptions(options as never),
      (err: Error & { code?: string }) => {
        assert.match(err.message, message)
        return (
          err instanceof TypeError && /^FST_PERF_CACHE_INVALID_(OPTION|DURATION|SIZE)$/.test(err.code ?? '')
        )
      },
    )
  }
  const tags = (t: readonly string[]) => t
  const route = resolveRouteConfig(
    { ttl: '1m', vary: ['Accept-Language', 'accept-language'] },
    defaults,
    'GET /x',
    tags,
  )
  assert.equal(route.ttlMs, 60_000)
  assert.deepEqual(route.vary, ['accept-language'])
  assert.equal(route.hasDimensions, true)
  assert.equal(resolveRouteConfig(true, resolveRouteOptions({ ttl: '5s' }), 'GET /x', tags).ttlMs, 5000)
  for (const config of [
    { ttl: 'soon' },
    { hook: 'onSend' },
    { vary: ['bad header'] },
    { key: 'x' },
    { ttll: 1 },
  ]) {
    assert.throws(
      () => resolveRouteConfig(config as never, defaults, 'GET /x', tags),
      (err: Error & { code?: string }) =>
        err.code === 'FST_PERF_CACHE_INVALID_OPTION' && /GET \/x/.test(err.message),
    )
  }
})

test('edge options: off by default, a route inherits the plugin’s and may override it, booleans only', () => {
  const tags = (t: readonly string[]) => t
  const off = resolveRouteOptions(undefined)
  assert.equal(off.edge, false)
  const on = resolveRouteOptions({ edge: true })
  assert.equal(on.edge, true)
  assert.equal(resolveRouteConfig(true, off, 'GET /x', tags).edge, false)
  assert.equal(resolveRouteConfig(true, on, 'GET /x', tags).edge, true)
  assert.equal(resolveRouteConfig({ edge: false }, on, 'GET /x', tags).edge, false)
  assert.equal(resolveRouteConfig({ edge: true }, off, 'GET /x', tags).edge, true)
  // Each route decides on its own first request: its own state, not shared with another route.
  const a = resolveRouteConfig(true, on, 'GET /a', tags)
  const b = resolveRouteConfig(true, on, 'GET /b', tags)
  assert.equal(a.atEdge.mark, undefined)
  assert.notEqual(a.atEdge, b.atEdge)
  for (const edge of ['yes', 1, null]) {
    assert.throws(
      () => resolveRouteOptions({ edge } as never),
      (err: Error & { code?: string }) =>
        err.code === 'FST_PERF_CACHE_INVALID_OPTION' && /routes\.edge/.test(err.message),
    )
    assert.throws(
      () => resolveRouteConfig({ edge } as never, off, 'GET /x', tags),
      (err: Error & { code?: string }) =>
        err.code === 'FST_PERF_CACHE_INVALID_OPTION' && /config\.cache\.edge \(GET \/x\)/.test(err.message),
    )
  }
})

test('UrlKeyMemo answers exactly urlKey (and the prefixed store key) whatever the order of hosts and URLs', () => {
  const filter = compileQueryFilter(['utm_*'])
  const memo = new UrlKeyMemo('ns:r:', filter)
  const cases: Array<[string, string]> = [
    ['a.example', '/p?x=1&y=2'],
    ['a.example', '/p?x=1&y=2'],
    ['a.example', '/p?y=2&x=1'],
    ['B.example', '/p?x=1&y=2'],
    ['b.example', '/p?x=1&y=2'],
    ['a.example', '/p?x=1&y=2&utm_source=z'],
    ['a.example', '/q'],
    ['a.example', '/q'],
    ['a.example', '/p?x=1&y=2'],
    ['', '/'],
  ]
  for (const [host, url] of cases) {
    memo.set(host, url)
    const expected = urlKey(host, url, filter)
    assert.equal(memo.key, expected, `${host} ${url}`)
    assert.equal(memo.slot, `ns:r:${expected}`, `${host} ${url}`)
  }
})
