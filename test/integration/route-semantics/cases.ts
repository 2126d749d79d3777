// The HTTP semantics table of the route cache (issue 5), after http-tests/cache-tests: every
// case names the RFC rule it checks (RFC 9111 caching, RFC 9110 semantics, RFC 5861 stale
// extensions, RFC 9211 Cache-Status) or, where the route cache is deliberately stricter than
// the RFC allows, the rule of the specification (/tmp/route-cache-spec.md, docs/caching.md).
//
// Time: the cache uses Date.now(), so the cases use short lifetimes and real waits. Entries that
// must become stale live 2 s: the origin's Date has a one-second resolution (and Node's cached
// date string can lag a loaded event loop), so a proxy that counts the apparent age (RFC 9111
// §4.2.3) may see up to a second of age on arrival, and a 1 s lifetime could be stale before it
// is stored. A wait of 3200 ms then makes the entry stale by more than one whole second whatever
// the rounding, so a negative `ttl=` is at most -1.
//
// Where the specification and an RFC disagree or the specification is silent, the case
// follows the RFC and says so in a comment starting with "SPEC:".
import type { HttpResponse } from '@fastify-perf/test-helpers'
import {
  type Case,
  cs,
  type Expectation,
  notMatching,
  present,
  type RequestStep,
  type StepContext,
  sameAsStep,
} from './case-types.js'
import { httpDate, type ScriptHeaderValue, type ScriptResponse } from './origin.js'

const STALE_WAIT_MS = 3200
const PAST_WINDOW_WAIT_MS = 4200

const cc = (value: string): Record<string, ScriptHeaderValue> => ({ 'cache-control': value })
const fresh: ScriptResponse = { headers: cc('max-age=60') }
/** Request headers of a step with a text body (Fastify answers 415 to a body without a type). */
const textBody = { 'content-type': 'text/plain' }
const get = (expect: Expectation, extra: Omit<RequestStep, 'expect'> = {}): RequestStep => ({
  ...extra,
  expect,
})

/** First request of a case whose response must be stored. */
const storedMiss: RequestStep = get({ status: 200, cached: false, servedBy: 1, cacheStatus: cs.stored })
/** A fresh hit of origin call `n`. */
const hitOf = (n: number, extra: Expectation = {}): Expectation => ({
  cached: true,
  servedBy: n,
  cacheStatus: cs.hit,
  ...extra,
})
/** A request that must reach the origin, answered by origin call `n`. */
const missOf = (n: number, extra: Expectation = {}): Expectation => ({ cached: false, servedBy: n, ...extra })

/** No `hit` in our Cache-Status member. */
const notAHit = notMatching(/; hit(;|$)/)

const LAST_MODIFIED = new Date(Date.now() - 86_400_000).toUTCString()

/** Two requests: the response is not stored (detail `reason`), so the second goes to the origin too. */
function notStoredCase(
  id: string,
  rfc: string,
  title: string,
  response: ScriptResponse,
  reason: string,
  extra: Partial<Case> = {},
): Case {
  return {
    id,
    group: 'storability',
    rfc,
    title,
    script: [response],
    steps: [
      get({ cached: false, cacheStatus: cs.notStored(reason) }),
      get({ cached: false, servedBy: 2, cacheStatus: cs.notStored(reason) }),
    ],
    ...extra,
  }
}

/** Two requests: the response is stored, the second is a fresh hit. */
function storedCase(
  id: string,
  group: Case['group'],
  rfc: string,
  title: string,
  response: ScriptResponse,
  extra: Partial<Case> = {},
): Case {
  return {
    id,
    group,
    rfc,
    title,
    script: [response],
    steps: [storedMiss, get(hitOf(1))],
    ...extra,
  }
}

/** Two requests, the second after the entry became stale: it must reach the origin. */
function staleCase(
  id: string,
  rfc: string,
  title: string,
  response: ScriptResponse,
  extra: Partial<Case> = {},
): Case {
  return {
    id,
    group: 'freshness',
    rfc,
    title,
    script: [response],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2), { waitMs: STALE_WAIT_MS })],
    ...extra,
  }
}

// --- storability: what is stored (RFC 9111 §3) -------------------------------------------------

const storability: Case[] = [
  storedCase(
    'store-max-age',
    'storability',
    'RFC 9111 §3, §4.2.1 (max-age gives explicit freshness)',
    'a 200 with max-age is stored and the next request is a fresh hit',
    fresh,
    {
      steps: [storedMiss, get(hitOf(1, { ttl: [56, 60] }))],
    },
  ),
  notStoredCase(
    'no-store',
    'RFC 9111 §5.2.2.5 (no-store: MUST NOT store)',
    'no-store is never stored',
    { headers: cc('max-age=60, no-store') },
    'NO-STORE',
  ),
  notStoredCase(
    'no-store-case-spacing',
    'RFC 9111 §5.2 (directive names are case-insensitive), §5.2.2.5',
    'No-Store in any case and spacing is honoured',
    { headers: cc('max-age=60 ,   No-Store') },
    'NO-STORE',
  ),
  notStoredCase(
    'no-store-second-field-line',
    'RFC 9110 §5.3 (field lines combine into one list), RFC 9111 §5.2.2.5',
    'no-store on a second Cache-Control line is honoured',
    { headers: { 'cache-control': ['max-age=60', 'no-store'] } },
    'NO-STORE',
  ),
  notStoredCase(
    'private',
    'RFC 9111 §5.2.2.7 (private: a shared cache MUST NOT store)',
    'private is never stored',
    { headers: cc('private, max-age=60') },
    'PRIVATE',
  ),
  notStoredCase(
    'private-uppercase',
    'RFC 9111 §5.2 (case-insensitive directives), §5.2.2.7',
    'PRIVATE in upper case is honoured',
    { headers: cc('max-age=60, PRIVATE') },
    'PRIVATE',
  ),
  // RFC 9111 §5.2.2.7 lets a shared cache store the rest of a response with qualified private;
  // not storing it at all is the conservative choice the specification makes.
  notStoredCase(
    'private-qualified',
    'RFC 9111 §5.2.2.7 (qualified private="field")',
    'private="x-user" is not stored',
    { headers: cc('private="x-user", max-age=60') },
    'PRIVATE',
  ),
  notStoredCase(
    'no-cache-in-app',
    'RFC 9111 §5.2.2.4 (no-cache: MUST NOT reuse without validation; in-app there is no validation)',
    'no-cache is not stored in-app',
    { headers: cc('no-cache, max-age=60') },
    'NO-CACHE',
    { only: 'app' },
  ),
  {
    ...notStoredCase(
      'set-cookie',
      'RFC 9111 §7.3 (personal data); nginx and the specification never store Set-Cookie',
      'a Set-Cookie response is not stored, and the client that caused it still gets its cookie',
      { headers: { ...cc('public, max-age=60'), 'set-cookie': 'sid=abc; Path=/' } },
      'SET-COOKIE',
    ),
    steps: [
      get({ cached: false, headers: { 'set-cookie': /^sid=abc/ }, cacheStatus: cs.notStored('SET-COOKIE') }),
      get({ cached: false, servedBy: 2, cacheStatus: cs.notStored('SET-COOKIE') }),
    ],
  },
  notStoredCase(
    'vary-star',
    'RFC 9111 §4.1 (Vary: * always fails to match)',
    'Vary: * is never stored',
    { headers: { ...cc('max-age=60'), vary: '*' } },
    'VARY-STAR',
  ),
  notStoredCase(
    'no-freshness',
    'RFC 9111 §4.2.2 (without Last-Modified there is nothing to base a heuristic on)',
    'a response without freshness information is not stored',
    {},
    'NO-FRESHNESS',
  ),
  storedCase(
    'heuristic-last-modified',
    'storability',
    'RFC 9111 §4.2.2 (heuristic freshness: 10% of the time since Last-Modified)',
    'Last-Modified a day ago alone gives about 2.4 hours of freshness',
    { headers: { 'last-modified': LAST_MODIFIED } },
    { steps: [storedMiss, get(hitOf(1, { ttl: [8630, 8640] }))] },
  ),
  storedCase(
    'heuristic-capped',
    'storability',
    'RFC 9111 §4.2.2 (a heuristic lifetime SHOULD be bounded); specification: at most a day',
    'Last-Modified a year ago gives a day of freshness, not 36 days',
    { headers: { 'last-modified': new Date(Date.now() - 365 * 86_400_000).toUTCString() } },
    { steps: [storedMiss, get(hitOf(1, { ttl: [86390, 86400] }))] },
  ),
  notStoredCase(
    'heuristic-not-for-errors',
    'RFC 9110 §15.1, RFC 9111 §4.2.2 (a 500 is not heuristically cacheable)',
    'Last-Modified gives a 500 no freshness',
    { status: 500, headers: { 'last-modified': LAST_MODIFIED } },
    'STATUS',
  ),
  notStoredCase(
    'heuristic-not-for-405',
    'RFC 9110 §15.1; specification: 405, 414, 501 need their own explicit freshness (CPDoS)',
    'Last-Modified gives a 405 no freshness',
    { status: 405, headers: { 'last-modified': LAST_MODIFIED, allow: 'GET' } },
    'STATUS',
  ),
  {
    id: 'heuristic-public-any-status',
    group: 'storability',
    rfc: 'RFC 9111 §4.2.2 (a response marked public may use heuristic freshness), §5.2.2.9',
    title: 'a 599 with public and Last-Modified is stored heuristically',
    script: [{ status: 599, headers: { ...cc('public'), 'last-modified': LAST_MODIFIED } }],
    steps: [
      get({ status: 599, cached: false, cacheStatus: cs.stored }),
      get({ status: 599, ...hitOf(1, { ttl: [8630, 8640] }) }),
    ],
  },
  {
    id: 'too-large',
    group: 'storability',
    rfc: 'RFC 9111 §3 (a cache MAY decline to store); maxEntrySize of the specification',
    title: 'a body over maxEntrySize reaches the client whole and is not stored',
    plugin: { maxEntrySize: '1KB' },
    script: [{ headers: cc('max-age=60'), body: 'x'.repeat(4096) }],
    steps: [
      get({ status: 200, cached: false, bodyLength: 4096, cacheStatus: cs.notStored('TOO-LARGE') }),
      get({ cached: false, bodyLength: 4096, cacheStatus: cs.notStored('TOO-LARGE') }),
    ],
  },
  ...(
    [
      [203, {}],
      [204, {}],
      [300, {}],
      [301, { location: '/elsewhere' }],
      [308, { location: '/elsewhere' }],
      [404, {}],
      [410, {}],
    ] as const
  ).map(
    ([status, headers]): Case => ({
      id: `status-${status}-stored`,
      group: 'storability',
      rfc: 'RFC 9110 §15.1 (heuristically cacheable status), RFC 9111 §3 (with explicit freshness)',
      title: `a ${status} with max-age is stored`,
      script: [
        { status, headers: { ...cc('max-age=60'), ...headers }, ...(status === 204 ? { body: '' } : {}) },
      ],
      steps: [
        get({ status, cached: false, cacheStatus: cs.stored }),
        get({
          status,
          cached: true,
          cacheStatus: cs.hit,
          ...(status === 204 ? { emptyBody: true } : { servedBy: 1 }),
        }),
      ],
    }),
  ),
  {
    id: 'status-206-not-stored',
    group: 'storability',
    rfc: 'RFC 9111 §3.3, §3.4 (partial content needs range-aware storage)',
    title: 'a 206 is not stored, even with max-age',
    script: [{ status: 206, headers: { ...cc('max-age=60'), 'content-range': 'bytes 0-9/100' } }],
    steps: [
      get({ status: 206, cached: false, cacheStatus: cs.notStored('STATUS') }),
      get({ status: 206, cached: false, servedBy: 2 }),
    ],
  },
  ...(
    [
      [302, { location: '/elsewhere' }],
      [307, { location: '/elsewhere' }],
      [400, {}],
      [403, {}],
      [405, { allow: 'GET' }],
      [500, {}],
      [503, {}],
      [599, {}],
    ] as const
  ).map(
    ([status, headers]): Case => ({
      id: `status-${status}-own-freshness`,
      group: 'storability',
      rfc: 'RFC 9111 §3 (any final status with explicit freshness may be stored)',
      title: `a ${status} with its own max-age is stored`,
      script: [{ status, headers: { ...cc('max-age=60'), ...headers } }],
      steps: [get({ status, cached: false, cacheStatus: cs.stored }), get({ status, ...hitOf(1) })],
    }),
  ),
  {
    id: 'status-500-route-ttl-not-stored',
    group: 'storability',
    rfc: 'specification: a route ttl gives freshness to the statuses stored by default only (CPDoS)',
    title: 'a 500 is not stored on the route ttl alone',
    only: 'app',
    route: { ttl: '60s' },
    script: [{ status: 500 }],
    steps: [
      get({ status: 500, cached: false, cacheStatus: cs.notStored('STATUS') }),
      get({ status: 500, cached: false, servedBy: 2 }),
    ],
  },
  {
    id: 'status-200-route-ttl-stored',
    group: 'storability',
    rfc: 'specification: the route ttl wins over the response headers (a 200 of the default set)',
    title: 'a 200 without freshness is stored on the route ttl',
    only: 'app',
    route: { ttl: '60s' },
    script: [{}],
    steps: [storedMiss, get(hitOf(1, { ttl: [58, 60] }))],
  },
  storedCase(
    'must-understand-known-status',
    'storability',
    'RFC 9111 §5.2.2.3 (must-understand: no-store is ignored for a status the cache understands)',
    'a 200 with no-store, must-understand is stored',
    { headers: cc('max-age=60, no-store, must-understand') },
  ),
  notStoredCase(
    'must-understand-unknown-status',
    'RFC 9111 §5.2.2.3 (must-understand: a status the cache does not know is not stored)',
    'a 599 with no-store, must-understand is not stored',
    { status: 599, headers: cc('max-age=60, no-store, must-understand') },
    'NO-STORE',
  ),
  {
    id: 'error-does-not-replace',
    group: 'storability',
    rfc: 'CPDoS (an error never replaces a stored good response); RFC 9111 §5.2.1.4 with honorRequestNoCache',
    title: 'a forced refresh that fails leaves the stored 200 in place',
    plugin: { honorRequestNoCache: true },
    script: [fresh, { status: 500, headers: cc('max-age=60') }],
    steps: [
      storedMiss,
      get({ status: 500, cached: false }, { headers: { 'cache-control': 'no-cache' } }),
      get({ status: 200, ...hitOf(1) }),
    ],
  },
  {
    id: 'reply-cache-bypass',
    group: 'storability',
    rfc: 'specification: reply.cache.bypass() (RFC 9111 §3: a cache MAY decline to store)',
    title: 'reply.cache.bypass() keeps that response out of the cache',
    only: 'app',
    script: [{ headers: cc('max-age=60'), bypass: true }],
    steps: [
      get({ cached: false, cacheStatus: cs.notStored('BYPASS') }),
      get({ cached: false, servedBy: 2, cacheStatus: cs.notStored('BYPASS') }),
    ],
  },
  {
    id: 'post-not-cached',
    group: 'storability',
    rfc: 'RFC 9111 §3 (only GET and HEAD are cached); RFC 9211 (no Cache-Status for other methods)',
    title: 'POST goes to the origin every time and gets no Cache-Status',
    script: [fresh],
    steps: [
      get(
        { status: 200, cached: false, cacheStatus: null },
        { method: 'POST', body: 'a', headers: textBody },
      ),
      get(
        { status: 200, cached: false, servedBy: 2, cacheStatus: null },
        { method: 'POST', body: 'a', headers: textBody },
      ),
    ],
  },
]

// --- requests that bypass the cache (RFC 9111 §3.5 and the specification) ------------------------

function bypassCase(
  id: string,
  rfc: string,
  title: string,
  headers: Record<string, string>,
  reason: string,
  extra: Partial<Case> = {},
): Case {
  return {
    id,
    group: 'request-bypass',
    rfc,
    title,
    script: [fresh],
    steps: [
      storedMiss,
      // Not served from the cache...
      get(missOf(2, { cacheStatus: cs.bypass(reason) }), { headers }),
      // ...and not stored either: the next plain request still gets call 1's response.
      get(hitOf(1)),
    ],
    ...extra,
  }
}

const requestBypass: Case[] = [
  bypassCase(
    'authorization-bypass',
    'RFC 9111 §3.5 (responses to Authorization requests are not reused)',
    'a request with Authorization is neither served from nor stored in the cache',
    { authorization: 'Bearer alice' },
    'AUTHORIZATION',
  ),
  {
    id: 'authorization-first-not-stored',
    group: 'request-bypass',
    rfc: 'RFC 9111 §3.5',
    title:
      'the response to an Authorization request is not stored for the next client, even if it says public',
    script: [{ headers: cc('public, max-age=60') }],
    steps: [
      get(missOf(1, { cacheStatus: cs.bypass('AUTHORIZATION') }), {
        headers: { authorization: 'Bearer alice' },
      }),
      get(missOf(2, { cacheStatus: cs.stored })),
    ],
  },
  bypassCase(
    'cookie-bypass',
    'RFC 9111 §7.3 (personalised responses); specification: Cookie requests bypass',
    'a request with Cookie is neither served from nor stored in the cache',
    { cookie: 'sid=alice' },
    'COOKIE',
  ),
  {
    id: 'cookie-first-not-stored',
    group: 'request-bypass',
    rfc: 'RFC 9111 §7.3; specification: Cookie requests bypass',
    title: 'the response to a Cookie request is not stored for the next client',
    script: [fresh],
    steps: [
      get(missOf(1, { cacheStatus: cs.bypass('COOKIE') }), { headers: { cookie: 'sid=alice' } }),
      get(missOf(2, { cacheStatus: cs.stored })),
    ],
  },
  {
    id: 'allow-authorization-keyed',
    group: 'request-bypass',
    rfc: 'RFC 9111 §3.5 (reuse only when allowed); specification: allowAuthorization keys by the credentials',
    title: 'with allowAuthorization each credential gets its own entry',
    only: 'app',
    route: { allowAuthorization: true },
    script: [fresh],
    steps: [
      get(missOf(1, { cacheStatus: cs.stored }), { headers: { authorization: 'Bearer alice' } }),
      get(hitOf(1), { headers: { authorization: 'Bearer alice' } }),
      get(missOf(2), { headers: { authorization: 'Bearer bob' } }),
      get(missOf(3)),
      get(hitOf(1), { headers: { authorization: 'Bearer alice' } }),
      get(hitOf(2), { headers: { authorization: 'Bearer bob' } }),
    ],
  },
  {
    id: 'allow-cookie-keyed',
    group: 'request-bypass',
    rfc: 'RFC 9111 §7.3; specification: allowCookie keys by the cookie',
    title: 'with allowCookie each cookie gets its own entry',
    only: 'app',
    route: { allowCookie: true },
    script: [fresh],
    steps: [
      get(missOf(1, { cacheStatus: cs.stored }), { headers: { cookie: 'sid=alice' } }),
      get(hitOf(1), { headers: { cookie: 'sid=alice' } }),
      get(missOf(2), { headers: { cookie: 'sid=bob' } }),
      get(missOf(3)),
      get(hitOf(2), { headers: { cookie: 'sid=bob' } }),
    ],
  },
  {
    id: 'fat-get',
    group: 'request-bypass',
    rfc: 'RFC 9110 §9.3.1 (content on GET has no defined semantics); fat-GET poisoning (Kettle 2020)',
    title: 'a GET with a body bypasses the cache',
    script: [fresh],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.bypass('BODY') }), {
        body: 'q=evil',
        headers: { 'content-type': 'text/plain' },
      }),
      get(hitOf(1)),
    ],
  },
  {
    id: 'fat-get-chunked',
    group: 'request-bypass',
    rfc: 'RFC 9112 §6.1 (Transfer-Encoding means content); RFC 9110 §9.3.1',
    title: 'a GET with a chunked body bypasses the cache',
    script: [fresh],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.bypass('BODY') }), {
        body: 'q=evil',
        headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
        raw: true,
      }),
      get(hitOf(1)),
    ],
  },
  ...(
    [
      ['x-http-method-override', 'DELETE'],
      ['x-http-method', 'DELETE'],
      ['x-method-override', 'DELETE'],
      ['x-original-url', '/admin'],
      ['x-rewrite-url', '/admin'],
    ] as const
  ).map(([header, value]) =>
    bypassCase(
      `override-${header}`,
      'CPDoS method override (Nguyen et al., CCS 2019); specification: override headers bypass',
      `a request with ${header} bypasses the cache`,
      { [header]: value },
      'METHOD-OVERRIDE',
    ),
  ),
]

// --- freshness (RFC 9111 §4.2) -----------------------------------------------------------------

const freshness: Case[] = [
  staleCase(
    'max-age-lifetime',
    'RFC 9111 §4.2 (fresh only while age < lifetime)',
    'an entry is not reused after max-age',
    {
      headers: cc('max-age=2'),
    },
  ),
  {
    ...storedCase(
      's-maxage-over-max-age',
      'freshness',
      'RFC 9111 §5.2.2.10 (s-maxage overrides max-age in a shared cache)',
      's-maxage=60 keeps an entry fresh past max-age=2',
      { headers: cc('max-age=2, s-maxage=60') },
    ),
    steps: [storedMiss, get(hitOf(1, { ttl: [50, 60] }), { waitMs: STALE_WAIT_MS })],
  },
  staleCase(
    's-maxage-shorter',
    'RFC 9111 §5.2.2.10 (s-maxage overrides a longer max-age)',
    's-maxage=2 wins over max-age=60',
    { headers: cc('max-age=60, s-maxage=2') },
  ),
  {
    ...storedCase(
      'expires-future',
      'freshness',
      'RFC 9111 §5.3, §4.2.1 (freshness = Expires - Date)',
      'a future Expires without max-age gives freshness',
      { headers: { expires: httpDate(60) } },
    ),
    steps: [storedMiss, get(hitOf(1, { ttl: [55, 60] }))],
  },
  {
    id: 'expires-past',
    group: 'freshness',
    rfc: 'RFC 9111 §4.2.1 (Expires in the past: already stale)',
    title: 'an Expires in the past is not reused',
    script: [{ headers: { expires: httpDate(-60) } }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  {
    id: 'expires-invalid',
    group: 'freshness',
    rfc: 'RFC 9111 §5.3 (an invalid Expires, especially "0", means already expired)',
    title: 'Expires: 0 is not reused',
    script: [{ headers: { expires: '0' } }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  storedCase(
    'max-age-beats-expires',
    'freshness',
    'RFC 9111 §5.3 (with max-age, Expires is ignored)',
    'max-age=60 wins over a past Expires',
    { headers: { ...cc('max-age=60'), expires: httpDate(-60) } },
  ),
  storedCase(
    'max-age-beats-invalid-expires',
    'freshness',
    'RFC 9111 §5.3 (with max-age, an invalid Expires is ignored)',
    'max-age=60 wins over Expires: 0',
    { headers: { ...cc('max-age=60'), expires: '0' } },
  ),
  {
    id: 'max-age-zero',
    group: 'freshness',
    rfc: 'RFC 9111 §4.2 (max-age=0: stale at once, never reused without validation)',
    title: 'max-age=0 is not reused',
    script: [{ headers: cc('max-age=0') }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  storedCase(
    'max-age-uppercase',
    'freshness',
    'RFC 9111 §5.2 (directive names are case-insensitive)',
    'MAX-AGE=60 is honoured',
    { headers: cc('MAX-AGE=60') },
  ),
  storedCase(
    'max-age-quoted',
    'freshness',
    'RFC 9111 §5.2 (senders use the token form, recipients SHOULD accept the quoted form)',
    'max-age="60" is honoured',
    { headers: cc('max-age="60"') },
  ),
  {
    id: 'max-age-invalid',
    group: 'freshness',
    rfc: 'RFC 9111 §1.2.2 (delta-seconds is digits only), §4.2.1',
    title: 'max-age=60a gives no freshness',
    script: [{ headers: cc('max-age=60a') }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  {
    ...storedCase(
      'route-ttl',
      'freshness',
      'specification: route ttl gives freshness (RFC 9111 §4.2.1: the origin - here the route - assigns it)',
      'a route ttl stores a response without Cache-Control',
      {},
      { only: 'app', route: { ttl: '60s' } },
    ),
    steps: [storedMiss, get(hitOf(1, { ttl: [56, 60] }))],
  },
  {
    ...storedCase(
      'route-ttl-wins',
      'freshness',
      'specification: route ttl wins over the response max-age',
      'a route ttl of 60 s outlives max-age=2',
      { headers: cc('max-age=2') },
      { only: 'app', route: { ttl: '60s' } },
    ),
    steps: [storedMiss, get(hitOf(1), { waitMs: STALE_WAIT_MS })],
  },
  notStoredCase(
    'route-ttl-no-store-wins',
    'RFC 9111 §5.2.2.5 (no-store even with a route ttl)',
    'a route ttl does not store a no-store response',
    { headers: cc('no-store') },
    'NO-STORE',
    { only: 'app', route: { ttl: '60s' } },
  ),
  notStoredCase(
    'route-ttl-private-wins',
    'RFC 9111 §5.2.2.7 (private even with a route ttl)',
    'a route ttl does not store a private response',
    { headers: cc('private') },
    'PRIVATE',
    { only: 'app', route: { ttl: '60s' } },
  ),
  notStoredCase(
    'route-ttl-set-cookie-wins',
    'specification: Set-Cookie is never stored, route ttl or not',
    'a route ttl does not store a Set-Cookie response',
    { headers: { 'set-cookie': 'sid=1' } },
    'SET-COOKIE',
    { only: 'app', route: { ttl: '60s' } },
  ),
  storedCase(
    'plugin-default-ttl',
    'freshness',
    'specification: routes.ttl is the default freshness of cached routes',
    'the plugin-level ttl stores a response without Cache-Control',
    {},
    { only: 'app', plugin: { ttl: '60s' } },
  ),
  {
    id: 'date-on-hit',
    group: 'freshness',
    rfc: 'RFC 9110 §6.6.1 (an origin with a clock MUST send Date)',
    title: 'an in-app hit carries a current Date',
    only: 'app',
    script: [fresh],
    steps: [
      storedMiss,
      get(
        hitOf(1, {
          headers: {
            date: (value) => {
              const t = value === undefined ? Number.NaN : Date.parse(value)
              return Number.isFinite(t) && Math.abs(t - Date.now()) < 5000
                ? undefined
                : 'not a current HTTP-date'
            },
          },
        }),
        { waitMs: 1100 },
      ),
    ],
  },
  {
    id: 'date-kept',
    group: 'freshness',
    rfc: 'RFC 9110 §6.6.1 (Date is when the origin generated the message); RFC 9111 §4',
    title: 'the proxy serves the stored Date, not a new one',
    only: 'proxy',
    script: [fresh],
    steps: [storedMiss, get(hitOf(1, { headers: { date: sameAsStep(0, 'date') } }), { waitMs: 1100 })],
  },
  storedCase(
    'expires-any-case',
    'freshness',
    'RFC 9110 §5.6.7 (recipients are encouraged to be robust in parsing timestamps), RFC 9111 §5.3',
    'Expires with upper-case day, month and zone names is read',
    { headers: { expires: (now) => new Date(now + 60_000).toUTCString().toUpperCase() } },
  ),
]

// --- Targeted fields (RFC 9213): the cache's own field, then CDN-Cache-Control, then Cache-Control

/** The own targeted field of the cases that configure one. */
const OWN = 'Test-Cache-Control'

const targeted: Case[] = [
  storedCase(
    'cdn-cc-over-cc',
    'freshness',
    'RFC 9213 §2.2 (a targeted field takes precedence over Cache-Control)',
    'CDN-Cache-Control: max-age=60 is stored despite Cache-Control: no-store, and is sent on',
    { headers: { ...cc('no-store'), 'cdn-cache-control': 'max-age=60' } },
    {
      steps: [
        storedMiss,
        get(
          hitOf(1, {
            ttl: [56, 60],
            headers: { 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' },
          }),
        ),
      ],
    },
  ),
  notStoredCase(
    'cdn-cc-no-store',
    'RFC 9213 §2.2, RFC 9111 §5.2.2.5',
    'CDN-Cache-Control: no-store wins over Cache-Control: max-age and Expires',
    {
      headers: {
        ...cc('max-age=60'),
        'cdn-cache-control': 'no-store',
        expires: (now) => new Date(now + 60_000).toUTCString(),
      },
    },
    'NO-STORE',
  ),
  notStoredCase(
    'cdn-cc-ignores-expires',
    'RFC 9213 §2.2 (with a targeted field, Cache-Control and Expires are ignored)',
    'CDN-Cache-Control without a lifetime ignores a future Expires',
    { headers: { 'cdn-cache-control': 'public', expires: (now) => new Date(now + 60_000).toUTCString() } },
    'NO-FRESHNESS',
  ),
  notStoredCase(
    'cdn-cc-invalid-falls-through',
    'RFC 9213 §2.1 (a field that is not a valid Structured Fields Dictionary is ignored)',
    'CDN-Cache-Control: max-age =60 is invalid: Cache-Control: no-store applies',
    { headers: { ...cc('no-store'), 'cdn-cache-control': 'max-age =60' } },
    'NO-STORE',
  ),
  notStoredCase(
    'cdn-cc-string-max-age',
    'RFC 9213 §2.1, RFC 8941 (max-age is an Integer; "60" is a String, counted as 0)',
    'CDN-Cache-Control: max-age="60" gives no freshness',
    { headers: { ...cc('max-age=60'), 'cdn-cache-control': 'max-age="60"' } },
    'NO-FRESHNESS',
  ),
  storedCase(
    'own-field-first',
    'freshness',
    "RFC 9213 §2.2 (the first valid field of the cache's list); specification: routes.targetedField",
    'the own targeted field wins over CDN-Cache-Control and Cache-Control, and is not sent on',
    {
      headers: {
        ...cc('no-store'),
        'cdn-cache-control': 'no-store',
        [OWN]: 'max-age=60',
      },
    },
    {
      plugin: { targetedField: OWN },
      steps: [
        get({
          status: 200,
          cached: false,
          servedBy: 1,
          cacheStatus: cs.stored,
          headers: { [OWN.toLowerCase()]: null },
        }),
        get(
          hitOf(1, {
            ttl: [56, 60],
            headers: {
              [OWN.toLowerCase()]: null,
              'cdn-cache-control': 'no-store',
              'cache-control': 'no-store',
            },
          }),
        ),
      ],
    },
  ),
  notStoredCase(
    'own-field-invalid-falls-through',
    'RFC 9213 §2.1; specification: routes.targetedField',
    'an invalid own field falls through to CDN-Cache-Control',
    { headers: { ...cc('max-age=60'), 'cdn-cache-control': 'no-store', [OWN]: 'max-age=60,' } },
    'NO-STORE',
    { plugin: { targetedField: OWN } },
  ),
]

// --- Age (RFC 9111 §4.2.3, §5.1) -----------------------------------------------------------------

const age: Case[] = [
  {
    id: 'age-on-hit',
    group: 'age',
    rfc: 'RFC 9111 §4, §5.1 (a response served without validation MUST carry Age)',
    title: 'hits carry Age, growing with time',
    script: [fresh],
    // Up to a second of apparent age on arrival in proxy mode: the origin's Date is whole seconds.
    steps: [storedMiss, get(hitOf(1, { age: [0, 2] })), get(hitOf(1, { age: [1, 4] }), { waitMs: 1200 })],
  },
  {
    id: 'age-upstream-added',
    group: 'age',
    rfc: 'RFC 9111 §4.2.3 (corrected initial age includes the received Age)',
    title: 'an upstream Age: 30 counts against the lifetime',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=60'), age: '30' } }],
    steps: [storedMiss, get(hitOf(1, { age: [30, 32], ttl: [27, 30] }))],
  },
  {
    id: 'age-exceeds-lifetime',
    group: 'age',
    rfc: 'RFC 9111 §4.2.3 (Age 15 > max-age 10: stale on arrival)',
    title: 'a response older than its lifetime is not reused',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=10'), age: '15' } }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  {
    id: 'age-float-ignored',
    group: 'age',
    rfc: 'RFC 9111 §5.1 (Age is delta-seconds; a non-integer value is invalid and ignored)',
    title: 'Age: 7200.0 is ignored',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=60'), age: '7200.0' } }],
    steps: [storedMiss, get(hitOf(1, { ttl: [56, 60] }))],
  },
  {
    id: 'age-alpha-ignored',
    group: 'age',
    rfc: 'RFC 9111 §5.1 (Age is delta-seconds; a non-integer value is invalid and ignored)',
    title: 'Age: abc is ignored',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=60'), age: 'abc' } }],
    steps: [storedMiss, get(hitOf(1, { ttl: [56, 60] }))],
  },
  {
    id: 'age-list-first',
    group: 'age',
    rfc: "RFC 9111 §5.1 (Age is one delta-seconds; of a list, the first value is the sender's)",
    title: 'Age: 7200, 0 makes a max-age=3600 response stale on arrival',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=3600'), age: '7200, 0' } }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  {
    id: 'age-two-lines-first',
    group: 'age',
    rfc: "RFC 9111 §5.1 (of two Age lines, the first is the sender's)",
    title: 'Age: 7200 then Age: 0 makes a max-age=3600 response stale on arrival',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=3600'), age: ['7200', '0'] } }],
    steps: [get({ cached: false, servedBy: 1 }), get(missOf(2))],
  },
  {
    id: 'age-list-first-fresh',
    group: 'age',
    rfc: 'RFC 9111 §5.1',
    title: 'Age: 0, 7200 is fresh',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=3600'), age: '0, 7200' } }],
    steps: [storedMiss, get(hitOf(1, { ttl: [3596, 3600] }))],
  },
]

// --- Vary (RFC 9111 §4.1) ----------------------------------------------------------------------

const varyOn = (header: string): ScriptResponse => ({ headers: { ...cc('max-age=60'), vary: header } })

const vary: Case[] = [
  {
    id: 'vary-match',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (a stored response is selected when the Vary headers match)',
    title: 'the same X-Foo is a hit',
    script: [varyOn('X-Foo')],
    steps: [{ ...storedMiss, headers: { 'x-foo': '1' } }, get(hitOf(1), { headers: { 'x-foo': '1' } })],
  },
  {
    id: 'vary-no-match',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (a different Vary header value does not match)',
    title: 'another X-Foo is a vary miss',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1' } },
      get(missOf(2, { cacheStatus: cs.varyStored }), { headers: { 'x-foo': '2' } }),
    ],
  },
  {
    id: 'vary-omitted',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (an absent header matches only an absent header)',
    title: 'a request without X-Foo does not match the X-Foo variant',
    script: [varyOn('X-Foo')],
    steps: [{ ...storedMiss, headers: { 'x-foo': '1' } }, get(missOf(2))],
  },
  {
    id: 'vary-variants-kept',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (several variants of one URI may be stored)',
    title: 'storing a second variant keeps the first',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1' } },
      get(missOf(2), { headers: { 'x-foo': '2' } }),
      get(hitOf(1), { headers: { 'x-foo': '1' } }),
      get(hitOf(2), { headers: { 'x-foo': '2' } }),
    ],
  },
  {
    id: 'vary-other-headers-ignored',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (only the headers named by Vary select)',
    title: 'a header not named by Vary does not split entries',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1', 'x-other': '2' } },
      get(hitOf(1), { headers: { 'x-foo': '1', 'x-other': '3' } }),
    ],
  },
  {
    id: 'vary-two-headers',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (every header named by Vary must match)',
    title: 'Vary: X-Foo, X-Bar needs both to match',
    script: [varyOn('X-Foo, X-Bar')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1', 'x-bar': 'abc' } },
      get(missOf(2), { headers: { 'x-foo': '2', 'x-bar': 'abc' } }),
      get(hitOf(1), { headers: { 'x-foo': '1', 'x-bar': 'abc' } }),
    ],
  },
  {
    id: 'vary-normalised-whitespace',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (adding or removing whitespace where the syntax allows it still matches)',
    title: 'values differing only in list whitespace match',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': 'alpha, beta' } },
      get(hitOf(1), { headers: { 'x-foo': '  alpha,   beta ' } }),
    ],
  },
  // SPEC: the specification says other headers are "lowercased" in the key. RFC 9111 §4.1 lets
  // two requests match "if and only if" one can be transformed into the other by, among others,
  // "case-normalization, where values are defined to be case-insensitive": X-Foo's values are
  // not, so "Alpha" and "alpha" must not share a variant (X-Tenant: B is not tenant b).
  {
    id: 'vary-value-case-kept',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (case-normalise only values defined case-insensitive)',
    title: 'X-Foo: Alpha and X-Foo: alpha are different variants',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': 'Alpha' } },
      get(missOf(2, { cacheStatus: cs.varyStored }), { headers: { 'x-foo': 'alpha' } }),
    ],
  },
  {
    id: 'vary-accept-language-case',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 with RFC 9110 §12.5.4 and RFC 5646 §2.1.1 (language tags are case-insensitive)',
    title: 'Accept-Language: en-US and EN-us are the same variant',
    script: [varyOn('Accept-Language')],
    steps: [
      { ...storedMiss, headers: { 'accept-language': 'en-US, fr;q=0.5' } },
      get(hitOf(1), { headers: { 'accept-language': 'EN-us, FR;q=0.5' } }),
    ],
  },
  {
    id: 'vary-combined-lines',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 and RFC 9110 §5.3 (field lines combine into one value)',
    title: 'two X-Foo lines match their comma-joined value',
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1, 2' } },
      get(hitOf(1), { headers: { 'x-foo': ['1', '2'] } }),
    ],
  },
  {
    id: 'vary-accept-encoding-order',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 (MAY normalise); RFC 9110 §12.5.3 (Accept-Encoding is a set)',
    title: 'Accept-Encoding in another order is the same variant',
    script: [varyOn('Accept-Encoding')],
    steps: [
      { ...storedMiss, headers: { 'accept-encoding': 'gzip, deflate, br' } },
      get(hitOf(1), { headers: { 'accept-encoding': 'br,gzip ,  deflate' } }),
    ],
  },
  {
    id: 'vary-accept-encoding-qvalues',
    group: 'vary',
    rfc: 'RFC 9110 §12.5.3 (q-values, unknown codings); specification Accept-Encoding normalisation',
    title: 'positive q-values and unknown codings do not create variants',
    script: [varyOn('Accept-Encoding')],
    steps: [
      { ...storedMiss, headers: { 'accept-encoding': 'gzip, br' } },
      get(hitOf(1), { headers: { 'accept-encoding': 'br;q=0.9, gzip;q=1.0, x-unknown, sdch' } }),
    ],
  },
  {
    id: 'vary-accept-encoding-refused',
    group: 'vary',
    rfc: 'RFC 9110 §12.5.3 (q=0 means "not acceptable")',
    title: 'br;q=0 is a different variant from br',
    script: [varyOn('Accept-Encoding')],
    steps: [
      { ...storedMiss, headers: { 'accept-encoding': 'gzip, br' } },
      get(missOf(2, { cacheStatus: cs.varyStored }), { headers: { 'accept-encoding': 'gzip, br;q=0' } }),
      get(hitOf(1), { headers: { 'accept-encoding': 'br, gzip' } }),
    ],
  },
  {
    id: 'vary-accept-encoding-sets',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 with the specification Accept-Encoding normalisation',
    title: 'gzip and br are separate variants, each reused',
    script: [varyOn('Accept-Encoding')],
    steps: [
      { ...storedMiss, headers: { 'accept-encoding': 'gzip' } },
      get(missOf(2), { headers: { 'accept-encoding': 'br' } }),
      get(hitOf(1), { headers: { 'accept-encoding': 'gzip' } }),
      get(hitOf(2), { headers: { 'accept-encoding': 'br' } }),
    ],
  },
  {
    id: 'route-vary',
    group: 'vary',
    rfc: 'specification: route vary keys by request headers the response does not name (RFC 9111 §4.1)',
    title: 'a route vary splits entries by X-Tenant',
    only: 'app',
    route: { vary: ['x-tenant'] },
    script: [fresh],
    steps: [
      { ...storedMiss, headers: { 'x-tenant': 'a' } },
      get(missOf(2), { headers: { 'x-tenant': 'b' } }),
      get(hitOf(1), { headers: { 'x-tenant': 'a' } }),
      get(hitOf(2), { headers: { 'x-tenant': ' b ' } }),
      // SPEC: not lowercased (RFC 9111 §4.1, see vary-value-case-kept): tenant B is not tenant b.
      get(missOf(3), { headers: { 'x-tenant': 'B' } }),
    ],
  },
  {
    id: 'too-many-variants',
    group: 'vary',
    rfc: 'specification maxVariants (RFC 9111 §3: a cache MAY decline to store; poisoning defence)',
    title: 'past maxVariants a new variant is stored and evicts the oldest one, never refused',
    plugin: { maxVariants: 2 },
    script: [varyOn('X-Foo')],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1' } },
      get(missOf(2), { headers: { 'x-foo': '2' } }),
      // With two variant slots, every variant may use either: the third one replaces the older
      // of the two (x-foo: 1). Refusing it instead would let junk values switch caching off.
      get(missOf(3), { headers: { 'x-foo': '3' } }),
      get(hitOf(3), { headers: { 'x-foo': '3' } }),
      get(hitOf(2), { headers: { 'x-foo': '2' } }),
      get(missOf(4), { headers: { 'x-foo': '1' } }),
    ],
  },
  {
    id: 'vary-value-too-large',
    group: 'vary',
    rfc: 'specification maxVaryValueLength (CPDoS header oversize, Nguyen et al. 2019)',
    title: 'a Vary-named header over 256 bytes bypasses the cache',
    script: [varyOn('Accept-Language')],
    steps: [
      { ...storedMiss, headers: { 'accept-language': 'en' } },
      get(missOf(2, { cacheStatus: cs.bypass('VARY-TOO-LARGE') }), {
        headers: { 'accept-language': `en,${'x'.repeat(300)}` },
      }),
      get(hitOf(1), { headers: { 'accept-language': 'en' } }),
    ],
  },
  {
    id: 'vary-conditional-other-variant',
    group: 'vary',
    rfc: 'RFC 9111 §4.1 with RFC 9110 §13.1.2 (only a selected response may answer a condition)',
    title: "If-None-Match with another variant's ETag is not answered 304 from that variant",
    script: [
      { headers: { ...cc('max-age=60'), vary: 'X-Foo', etag: '"v1"' } },
      { headers: { ...cc('max-age=60'), vary: 'X-Foo', etag: '"v2"' } },
    ],
    steps: [
      { ...storedMiss, headers: { 'x-foo': '1' } },
      get(missOf(2, { status: 200 }), { headers: { 'x-foo': '2', 'if-none-match': '"v1"' } }),
    ],
  },
]

// --- the primary key (RFC 9111 §2: method and target URI) ----------------------------------------

const key: Case[] = [
  {
    id: 'key-query-order',
    group: 'key',
    rfc: 'RFC 9111 §2 (target URI); specification: parameters sorted by name',
    title: 'reordered query parameters share an entry',
    script: [fresh],
    steps: [{ ...storedMiss, path: '/r?b=2&a=1' }, get(hitOf(1), { path: '/r?a=1&b=2' })],
  },
  {
    id: 'key-query-ignored',
    group: 'key',
    rfc: 'RFC 9111 §2; specification ignoreQuery default (utm_*, fbclid, gclid)',
    title: 'tracking parameters do not split entries',
    script: [fresh],
    steps: [
      { ...storedMiss, path: '/r?a=1' },
      get(hitOf(1), { path: '/r?a=1&utm_campaign=x' }),
      get(hitOf(1), { path: '/r?utm_source=y&a=1&fbclid=z&gclid=w' }),
    ],
  },
  {
    id: 'key-query-semicolon',
    group: 'key',
    rfc: "RFC 9111 §2; parameter cloaking (CVE-2021-23336): ';' is not a separator for Fastify's parser",
    title: 'a=1;utm_source=x is not a=1',
    script: [fresh],
    steps: [{ ...storedMiss, path: '/r?a=1' }, get(missOf(2), { path: '/r?a=1;utm_source=x' })],
  },
  {
    id: 'key-query-duplicates',
    group: 'key',
    rfc: 'RFC 9111 §2; specification: stable sort keeps the order of repeated names',
    title: 'a=1&a=2 and a=2&a=1 are different requests',
    script: [fresh],
    steps: [{ ...storedMiss, path: '/r?a=1&a=2' }, get(missOf(2), { path: '/r?a=2&a=1' })],
  },
  {
    id: 'key-ignore-query-option',
    group: 'key',
    rfc: 'RFC 9111 §2; specification ignoreQuery option replaces the default list',
    title: 'ignoreQuery: ["ref"] ignores ref and no longer utm_*',
    plugin: { ignoreQuery: ['ref'] },
    script: [fresh],
    steps: [
      { ...storedMiss, path: '/r?a=1' },
      get(hitOf(1), { path: '/r?a=1&ref=x' }),
      get(missOf(2), { path: '/r?a=1&utm_source=x' }),
    ],
  },
  {
    id: 'key-host',
    group: 'key',
    rfc: 'RFC 9111 §2 (the target URI includes the authority)',
    title: 'two Host values get two entries',
    script: [fresh],
    steps: [
      { ...storedMiss, raw: true, headers: { host: 'a.example' } },
      get(missOf(2), { raw: true, headers: { host: 'b.example' } }),
      get(hitOf(1), { raw: true, headers: { host: 'A.EXAMPLE' } }),
    ],
  },
  {
    id: 'key-encoded-slash',
    group: 'key',
    rfc: 'RFC 3986 §2.2 (%2F is not a path separator); RFC 9111 §2',
    title: 'a%2Fb and a/b are different entries',
    script: [fresh],
    steps: [
      { ...storedMiss, raw: true, path: '/a%2Fb' },
      get(missOf(2), { raw: true, path: '/a/b' }),
      get(hitOf(1), { raw: true, path: '/a%2Fb' }),
    ],
  },
  {
    id: 'key-path-case',
    group: 'key',
    rfc: 'RFC 3986 §6.2.2.1 (the path is case-sensitive); RFC 9111 §2',
    title: '/r and /R are different entries',
    script: [fresh],
    steps: [storedMiss, get(missOf(2), { path: '/R' })],
  },
  {
    id: 'key-trailing-slash',
    group: 'key',
    rfc: 'RFC 3986 §6.2.3 (no normalisation of path segments by a cache); RFC 9111 §2',
    title: '/r and /r/ are different entries',
    script: [fresh],
    steps: [storedMiss, get(missOf(2), { path: '/r/' })],
  },
]

// --- Cache-Status (RFC 9211) ------------------------------------------------------------------

const cacheStatus: Case[] = [
  {
    id: 'cache-status-off',
    group: 'cache-status',
    rfc: 'RFC 9211 §2 (the field is optional); specification cacheStatus: false',
    title: 'cacheStatus: false sends no Cache-Status',
    plugin: { cacheStatus: false },
    script: [fresh],
    steps: [get({ cached: false, cacheStatus: null }), get({ cached: true, servedBy: 1, cacheStatus: null })],
  },
  {
    id: 'cache-status-name',
    group: 'cache-status',
    rfc: 'RFC 9211 §2 (each member starts with the cache identifier)',
    title: 'cacheStatusName names our member',
    plugin: { cacheStatusName: 'edge-7' },
    script: [fresh],
    steps: [
      get({ cached: false, cacheStatus: 'edge-7; fwd=uri-miss; stored' }),
      get({ cached: true, cacheStatus: /^edge-7; hit; ttl=\d+$/ }),
    ],
  },
  {
    id: 'cache-status-appended',
    group: 'cache-status',
    rfc: 'RFC 9211 §2 (caches SHOULD preserve the existing field value and append their member)',
    title: "the upstream's Cache-Status member is kept before ours",
    only: 'proxy',
    // SPEC: the specification is silent on an upstream Cache-Status; RFC 9211 §2 asks to keep it.
    script: [{ headers: { ...cc('max-age=60'), 'cache-status': 'origin-cache; hit; ttl=30' } }],
    steps: [
      get({
        cached: false,
        headers: { 'cache-status': `origin-cache; hit; ttl=30, ${cs.stored}` },
      }),
      get(hitOf(1)),
    ],
  },
]

// --- CDN purge tags from the cache tags (specification: surrogateKeys) ----------------------------

const cdnTagCase = (
  provider: 'fastly' | 'cloudflare' | 'akamai' | 'bunny',
  header: string,
  value: string,
): Case => ({
  id: `cdn-tags-${provider}`,
  group: 'cdn-tags',
  rfc: `specification: surrogateKeys '${provider}' (the CDN's purge-tag header and separator)`,
  title: `${provider}: the route tags go out in ${header}`,
  only: 'app',
  plugin: { surrogateKeys: provider },
  route: { tags: ['products', 'product-1'] },
  script: [fresh],
  steps: [
    { ...storedMiss, expect: { ...storedMiss.expect, headers: { [header]: value } } },
    get(hitOf(1, { headers: { [header]: value } })),
  ],
})

/** 1,500 tags of 20 bytes: 30 KB, past every provider's limit. */
const MANY_TAGS = Array.from({ length: 1500 }, (_, i) => `tag-${String(i).padStart(16, '0')}`)

const cdnTags: Case[] = [
  cdnTagCase('fastly', 'surrogate-key', 'products product-1'),
  cdnTagCase('cloudflare', 'cache-tag', 'products,product-1'),
  cdnTagCase('akamai', 'edge-cache-tag', 'products,product-1'),
  cdnTagCase('bunny', 'cdn-tag', 'products,product-1'),
  {
    id: 'cdn-tags-limit',
    group: 'cdn-tags',
    rfc: "specification: each provider's size limit, whole tags only (Cloudflare: 16 KB, 1,000 tags)",
    title: 'too many tags are cut at a tag boundary, within the limit',
    only: 'app',
    plugin: { surrogateKeys: 'cloudflare' },
    route: { tags: MANY_TAGS },
    script: [fresh],
    steps: [
      get(
        {
          cached: false,
          headers: {
            'cache-tag': (value) => {
              if (value === undefined) return 'is absent'
              const tags = value.split(',')
              if (Buffer.byteLength(value) > 16384) return `${Buffer.byteLength(value)} bytes, over 16 KB`
              if (tags.length > 1000) return `${tags.length} tags, over 1,000`
              if (tags.some((tag, i) => tag !== MANY_TAGS[i])) return 'a tag was cut or reordered'
              return undefined
            },
          },
        },
        // node:http with a larger header limit: the tag header alone is up to 16 KB.
        { raw: true },
      ),
    ],
  },
]

// --- conditional requests answered from the cache (RFC 9110 §13, §15.4.5) -------------------------

const etagged = (etag: string, extra: Record<string, ScriptHeaderValue> = {}): ScriptResponse => ({
  headers: { ...cc('max-age=60'), etag, ...extra },
})
const notModified = (extra: Expectation = {}): Expectation => ({
  status: 304,
  cached: true,
  emptyBody: true,
  cacheStatus: cs.hit,
  ...extra,
})

function conditionalCase(
  id: string,
  rfc: string,
  title: string,
  response: ScriptResponse,
  requestHeaders: RequestStep['headers'],
  expect: Expectation,
  method = 'GET',
): Case {
  return {
    id,
    group: 'conditional',
    rfc,
    title,
    script: [response],
    steps: [storedMiss, get(expect, { method, headers: requestHeaders })],
  }
}

const conditional: Case[] = [
  conditionalCase(
    'inm-strong',
    'RFC 9110 §13.1.2 (If-None-Match), §13.2.2; RFC 9111 §4.3.2',
    'a matching If-None-Match gets 304 with the ETag',
    etagged('"abc"'),
    { 'if-none-match': '"abc"' },
    notModified({ headers: { etag: '"abc"' } }),
  ),
  conditionalCase(
    'inm-list',
    'RFC 9110 §13.1.2 (a list of entity tags)',
    'a list containing the ETag gets 304',
    etagged('"abc"'),
    { 'if-none-match': '"x", "abc", "y"' },
    notModified(),
  ),
  conditionalCase(
    'inm-star',
    'RFC 9110 §13.1.2 (* matches any current representation)',
    'If-None-Match: * gets 304',
    etagged('"abc"'),
    { 'if-none-match': '*' },
    notModified(),
  ),
  conditionalCase(
    'inm-weak-request',
    'RFC 9110 §8.8.3.2, §13.1.2 (If-None-Match uses the weak comparison)',
    'W/"abc" matches a stored "abc"',
    etagged('"abc"'),
    { 'if-none-match': 'W/"abc"' },
    notModified(),
  ),
  conditionalCase(
    'inm-weak-stored',
    'RFC 9110 §8.8.3.2, §13.1.2 (weak comparison)',
    '"abc" matches a stored W/"abc"',
    etagged('W/"abc"'),
    { 'if-none-match': '"abc"' },
    notModified({ headers: { etag: 'W/"abc"' } }),
  ),
  conditionalCase(
    'inm-no-match',
    'RFC 9110 §13.1.2 (no match: the condition is true, send the representation)',
    'a non-matching If-None-Match gets the full 200 from the cache',
    etagged('"abc"'),
    { 'if-none-match': '"zzz"' },
    { status: 200, ...hitOf(1) },
  ),
  conditionalCase(
    'ims-last-modified',
    'RFC 9110 §13.1.3 (If-Modified-Since against Last-Modified)',
    'If-Modified-Since after Last-Modified gets 304',
    { headers: { ...cc('max-age=60'), 'last-modified': httpDate(-3600) } },
    { 'if-modified-since': (ctx) => new Date(ctx.now - 60_000).toUTCString() },
    notModified(),
  ),
  conditionalCase(
    'ims-older',
    'RFC 9110 §13.1.3 (modified since: send the representation)',
    'If-Modified-Since before Last-Modified gets the full 200',
    { headers: { ...cc('max-age=60'), 'last-modified': httpDate(-3600) } },
    { 'if-modified-since': (ctx) => new Date(ctx.now - 7_200_000).toUTCString() },
    { status: 200, ...hitOf(1) },
  ),
  {
    id: 'ims-date-fallback',
    group: 'conditional',
    rfc: 'RFC 9110 §13.1.3; RFC 9111 §4.3.2 (without Last-Modified, the stored Date stands in)',
    title: 'If-Modified-Since at or after the stored Date gets 304',
    script: [fresh],
    steps: [
      storedMiss,
      get(notModified(), {
        waitMs: 1100,
        headers: { 'if-modified-since': (ctx) => new Date(ctx.now).toUTCString() },
      }),
    ],
  },
  conditionalCase(
    'inm-precedence',
    'RFC 9110 §13.1.3, §13.2.2 (If-Modified-Since is ignored when If-None-Match is present)',
    'a failing If-None-Match wins over a matching If-Modified-Since',
    etagged('"abc"', { 'last-modified': httpDate(-3600) }),
    { 'if-none-match': '"zzz"', 'if-modified-since': (ctx) => new Date(ctx.now - 60_000).toUTCString() },
    { status: 200, ...hitOf(1) },
  ),
  {
    id: '304-header-set',
    group: 'conditional',
    rfc: 'RFC 9110 §15.4.5 (a 304 carries Cache-Control, Content-Location, Date, ETag, Expires, Vary), §8.6',
    title: 'a 304 from the cache has the listed headers, Age and Cache-Status, and no content headers',
    script: [
      etagged('"abc"', {
        vary: 'X-V',
        'content-location': '/loc',
        expires: httpDate(60),
        'x-extra': '1',
      }),
    ],
    steps: [
      { ...storedMiss, headers: { 'x-v': '1' } },
      get(
        notModified({
          headers: {
            'cache-control': 'max-age=60',
            'content-location': '/loc',
            date: present,
            etag: '"abc"',
            expires: present,
            vary: /x-v/i,
            age: /^\d+$/,
            'x-extra': null,
            'content-type': null,
            'content-length': null,
          },
        }),
        { headers: { 'x-v': '1', 'if-none-match': '"abc"' } },
      ),
    ],
  },
  conditionalCase(
    'head-conditional',
    'RFC 9110 §13.1.2 (If-None-Match applies to GET and HEAD)',
    'HEAD with a matching If-None-Match gets 304',
    etagged('"abc"'),
    { 'if-none-match': '"abc"' },
    notModified(),
    'HEAD',
  ),
  {
    id: 'content-etag',
    group: 'conditional',
    rfc: 'RFC 9110 §8.8.3 (strong validator); specification: entries without ETag get a content ETag',
    title: 'a hit without an origin ETag carries a strong content ETag that validates',
    script: [fresh],
    steps: [
      storedMiss,
      get(hitOf(1, { headers: { etag: /^"[A-Za-z0-9_-]+"$/ } })),
      get(notModified(), {
        headers: { 'if-none-match': (ctx) => String(ctx.responses[1]?.headers.etag) },
      }),
    ],
  },
  {
    id: 'origin-etag-kept',
    group: 'conditional',
    rfc: 'RFC 9110 §8.8.3 (the origin owns its validators)',
    title: "the origin's ETag is served unchanged on hits",
    script: [etagged('"orig-1"')],
    steps: [storedMiss, get(hitOf(1, { headers: { etag: '"orig-1"' } }))],
  },
]

// --- HEAD (RFC 9110 §9.3.2, RFC 9111 §4) ---------------------------------------------------------

const head: Case[] = [
  {
    id: 'head-from-get',
    group: 'head',
    rfc: "RFC 9110 §9.3.2; RFC 9111 §4 (HEAD may be answered from GET's stored response)",
    title: "HEAD is answered from GET's entry, without a body",
    script: [fresh],
    steps: [
      storedMiss,
      get(
        {
          status: 200,
          cached: true,
          emptyBody: true,
          cacheStatus: cs.hit,
          headers: {
            'content-length': (value, ctx) => {
              const full = ctx.responses[0]?.body.length
              return value === undefined || Number(value) === full ? undefined : `expected ${full} or none`
            },
          },
        },
        { method: 'HEAD' },
      ),
    ],
  },
  {
    id: 'head-fills-get',
    group: 'head',
    rfc: 'RFC 9110 §9.3.2 (HEAD is GET without the content); RFC 9111 §4 (a stored GET response answers both)',
    title: "a HEAD miss stores the GET response (the handler's body, or the origin's to a GET), so GETs hit",
    script: [fresh],
    steps: [
      get({ status: 200, cached: false, emptyBody: true, cacheStatus: cs.stored }, { method: 'HEAD' }),
      get(hitOf(1, { headers: { 'content-length': String('head-fills-get call=1'.length) } })),
      get({ status: 200, cached: true, emptyBody: true, cacheStatus: cs.hit }, { method: 'HEAD' }),
    ],
  },
  {
    id: 'head-empty-not-stored',
    group: 'head',
    rfc: 'RFC 9110 §9.3.2 (a HEAD response has no content); RFC 9111 §4 (GET needs a full stored response)',
    title: 'a HEAD miss whose handler writes no body never leaves an empty entry',
    script: [{ ...fresh, body: '' }, fresh],
    steps: [
      get(
        { status: 200, cached: false, emptyBody: true, cacheStatus: cs.notStored('NO-BODY') },
        { method: 'HEAD' },
      ),
      get({ status: 200, cached: false, servedBy: 2, cacheStatus: cs.stored }),
    ],
  },
]

// --- stale: stale-while-revalidate and stale-if-error (RFC 5861, RFC 9111 §4.2.4) ----------------

const staleServed = (n: number, extra: Expectation = {}): Expectation => ({
  status: 200,
  servedBy: n,
  age: [3, 8],
  ...extra,
})

const stale: Case[] = [
  {
    id: 'swr-serves-stale',
    group: 'stale',
    rfc: 'RFC 5861 §3 (stale-while-revalidate: serve stale, revalidate in the background)',
    title: 'within the window the stale entry is served at once and refreshed once',
    // The refreshed response is fresh for a minute, so the last request is a plain hit.
    script: [{ headers: cc('max-age=2, stale-while-revalidate=30') }, fresh],
    steps: [
      storedMiss,
      get(staleServed(1, { cacheStatus: cs.swr, ttl: [-10, -1], originCalls: 2, settleMs: 500 }), {
        waitMs: STALE_WAIT_MS,
      }),
      get(hitOf(2)),
    ],
  },
  {
    id: 'swr-error-does-not-replace',
    group: 'stale',
    rfc: 'CPDoS (an error never replaces a stored response), RFC 5861 §3',
    title: 'a refresh answered by a 500 with its own max-age leaves the stale entry in place',
    script: [
      { headers: cc('max-age=2, stale-while-revalidate=30') },
      { status: 500, headers: cc('max-age=60') },
      { status: 500, headers: cc('max-age=60') },
    ],
    steps: [
      storedMiss,
      get(staleServed(1, { cacheStatus: cs.swr, originCalls: 2, settleMs: 500 }), { waitMs: STALE_WAIT_MS }),
      get(staleServed(1, { cacheStatus: cs.swr, settleMs: 500 })),
    ],
  },
  {
    id: 'swr-one-refresh',
    group: 'stale',
    rfc: 'RFC 5861 §3 (one background revalidation, not one per request)',
    title: 'ten concurrent stale requests trigger one refresh',
    script: [
      { headers: cc('max-age=2, stale-while-revalidate=30') },
      { headers: cc('max-age=60'), delayMs: 300 },
    ],
    steps: [
      storedMiss,
      get(staleServed(1, { cacheStatus: cs.swr, originCalls: 2, settleMs: 800 }), {
        waitMs: STALE_WAIT_MS,
        concurrent: 10,
      }),
    ],
  },
  {
    id: 'swr-window-passed',
    group: 'stale',
    rfc: 'RFC 5861 §3 (past the window the response SHOULD NOT be served stale)',
    title: 'after the window the request waits for the origin',
    script: [{ headers: cc('max-age=2, stale-while-revalidate=1') }],
    steps: [storedMiss, get(missOf(2, { cacheStatus: notAHit }), { waitMs: PAST_WINDOW_WAIT_MS })],
  },
  {
    id: 'swr-route-config',
    group: 'stale',
    rfc: 'specification: route staleWhileRevalidate (RFC 5861 §3 by configuration)',
    title: 'a route staleWhileRevalidate serves stale and refreshes',
    only: 'app',
    route: { ttl: '2s', staleWhileRevalidate: '30s' },
    script: [{}],
    steps: [
      storedMiss,
      get(staleServed(1, { cacheStatus: cs.swr, originCalls: 2, settleMs: 500 }), { waitMs: STALE_WAIT_MS }),
      get(hitOf(2)),
    ],
  },
  ...(['must-revalidate', 'proxy-revalidate'] as const).map(
    (directive): Case => ({
      id: `swr-${directive}`,
      group: 'stale',
      rfc: `RFC 9111 §4.2.4, §5.2.2.${directive === 'must-revalidate' ? '2' : '8'} (${directive} forbids serving stale)`,
      title: `${directive} turns stale-while-revalidate off`,
      script: [{ headers: cc(`max-age=2, stale-while-revalidate=30, ${directive}`) }],
      steps: [storedMiss, get(missOf(2, { cacheStatus: notAHit }), { waitMs: STALE_WAIT_MS })],
    }),
  ),
  {
    id: 'swr-s-maxage',
    group: 'stale',
    rfc: 'RFC 9111 §5.2.2.10 (s-maxage implies proxy-revalidate), §4.2.4',
    title: 's-maxage turns stale-while-revalidate off',
    script: [{ headers: cc('s-maxage=2, stale-while-revalidate=30') }],
    steps: [storedMiss, get(missOf(2, { cacheStatus: notAHit }), { waitMs: STALE_WAIT_MS })],
  },
  {
    id: 'sie-handler-throws',
    group: 'stale',
    rfc: 'RFC 5861 §4 (stale-if-error: serve stale when the origin fails with 500)',
    title: 'a failing origin is replaced by the stale entry',
    script: [{ headers: cc('max-age=2, stale-if-error=30') }, { fail: true }],
    steps: [
      storedMiss,
      get(staleServed(1, { cached: false, cacheStatus: cs.sie(500) }), { waitMs: STALE_WAIT_MS }),
    ],
  },
  {
    id: 'sie-503',
    group: 'stale',
    rfc: 'RFC 5861 §4 (a 503 is an error)',
    title: 'a 503 from the origin is replaced by the stale entry',
    script: [{ headers: cc('max-age=2, stale-if-error=30') }, { status: 503 }],
    steps: [
      storedMiss,
      get(staleServed(1, { cached: false, cacheStatus: cs.sie(503) }), { waitMs: STALE_WAIT_MS }),
    ],
  },
  {
    id: 'sie-404-passes',
    group: 'stale',
    rfc: 'RFC 5861 §4 (only 500, 502, 503, 504 are errors)',
    title: 'a 404 is not an error: it is passed on',
    script: [{ headers: cc('max-age=2, stale-if-error=30') }, { status: 404 }],
    steps: [storedMiss, get({ status: 404, ...missOf(2) }, { waitMs: STALE_WAIT_MS })],
  },
  {
    id: 'sie-window-passed',
    group: 'stale',
    rfc: 'RFC 5861 §4 (only up to N seconds of staleness)',
    title: 'after the window the error reaches the client',
    script: [{ headers: cc('max-age=2, stale-if-error=1') }, { fail: true }],
    steps: [storedMiss, get({ status: 500, cached: false }, { waitMs: PAST_WINDOW_WAIT_MS })],
  },
  {
    id: 'sie-must-revalidate',
    group: 'stale',
    rfc: 'RFC 9111 §4.2.4, §5.2.2.2 (must-revalidate: a 504 or the error, never stale)',
    title: 'must-revalidate turns stale-if-error off',
    script: [{ headers: cc('max-age=2, stale-if-error=30, must-revalidate') }, { fail: true }],
    steps: [storedMiss, get({ status: 500, cached: false }, { waitMs: STALE_WAIT_MS })],
  },
  {
    id: 'sie-route-config',
    group: 'stale',
    rfc: 'specification: route staleIfError (RFC 5861 §4 by configuration)',
    title: 'a route staleIfError serves stale when the handler throws',
    only: 'app',
    route: { ttl: '2s', staleIfError: '30s' },
    script: [{}, { fail: true }],
    steps: [
      storedMiss,
      get(staleServed(1, { cached: false, cacheStatus: cs.sie(500) }), { waitMs: STALE_WAIT_MS }),
    ],
  },
  // RFC 9111 §4.2.4: "A cache MUST NOT generate a stale response unless it is disconnected or
  // doing so is explicitly permitted by the client or origin server". An origin that closes the
  // connection leaves the cache disconnected. The entry must still be kept: in-app that is strict
  // mode's retention (proxy mode always keeps entries for revalidation).
  {
    id: 'stale-origin-unreachable',
    group: 'stale',
    rfc: 'RFC 9111 §4.2.4 (a disconnected cache may serve stale)',
    title: 'an unreachable origin is replaced by the stale entry',
    plugin: { strict: true },
    script: [{ headers: cc('max-age=2') }, { disconnect: true }],
    steps: [
      storedMiss,
      get(staleServed(1, { cached: false, cacheStatus: cs.unreachable(502) }), { waitMs: STALE_WAIT_MS }),
    ],
  },
  ...(['must-revalidate', 'proxy-revalidate', 's-maxage=2', 'no-cache'] as const).map(
    (directive): Case => ({
      id: `stale-origin-unreachable-${directive.replace('=2', '')}`,
      group: 'stale',
      rfc: 'RFC 9111 §4.2.4, §5.2.2 (must-revalidate, proxy-revalidate, s-maxage, no-cache: never stale)',
      title: `${directive}: an unreachable origin gives a 502, never the stale entry`,
      plugin: { strict: true },
      script: [{ headers: cc(`max-age=2, ${directive}`) }, { disconnect: true }],
      // In-app a no-cache response is not stored at all; either way nothing stale is served.
      steps: [
        get({ status: 200, cached: false, servedBy: 1 }),
        get({ status: 502, cached: false }, { waitMs: STALE_WAIT_MS }),
      ],
    }),
  ),
  {
    id: 'stale-needs-permission',
    group: 'stale',
    rfc: 'RFC 9111 §4.2.4 (a cache MUST NOT serve stale without permission)',
    title: 'without stale-if-error the error reaches the client',
    script: [{ headers: cc('max-age=2') }, { fail: true }],
    steps: [storedMiss, get({ status: 500, cached: false }, { waitMs: STALE_WAIT_MS })],
  },
]

// --- invalidation (RFC 9111 §4.4; tags) --------------------------------------------------------

// SPEC: the specification states unsafe-method invalidation under "Proxy mode" only; RFC 9111
// §4.4 says "A cache MUST invalidate the target URI when it receives a non-error status code in
// response to an unsafe request method", which binds the in-app cache as well, so these cases
// run in both modes.
const invalidation: Case[] = [
  // QUERY and M-SEARCH: every method but GET, HEAD, OPTIONS and TRACE is unsafe (RFC 9110
  // §9.2.1), known to the cache or not.
  ...(['POST', 'PUT', 'PATCH', 'DELETE', 'QUERY', 'M-SEARCH'] as const).map(
    (method): Case => ({
      id: `invalidate-${method.toLowerCase()}`,
      group: 'invalidation',
      rfc: 'RFC 9111 §4.4 (a successful unsafe method, known or not, invalidates the target URI)',
      title: `a successful ${method} invalidates the stored GET`,
      script: [fresh, { status: 200 }, fresh],
      steps: [
        storedMiss,
        get(
          { status: 200, cached: false },
          { method, ...(method === 'DELETE' ? {} : { body: 'abc', headers: textBody }) },
        ),
        get(missOf(3, { cacheStatus: cs.stored })),
      ],
    }),
  ),
  ...(['POST', 'M-SEARCH'] as const).map(
    (method): Case => ({
      id: method === 'POST' ? 'invalidate-failed-post' : `invalidate-failed-${method.toLowerCase()}`,
      group: 'invalidation',
      rfc: 'RFC 9111 §4.4 (only a non-error status invalidates)',
      title: `a failed ${method} leaves the entry`,
      script: [fresh, { status: 500 }],
      steps: [storedMiss, get({ status: 500 }, { method, body: 'abc', headers: textBody }), get(hitOf(1))],
    }),
  ),
  {
    id: 'invalidate-target-only',
    group: 'invalidation',
    rfc: 'RFC 9111 §4.4 (the target URI, not its neighbours)',
    title: 'a POST to another URI leaves the entry',
    script: [fresh, { status: 200 }],
    steps: [
      storedMiss,
      get({ status: 200 }, { method: 'POST', path: '/other', body: 'abc', headers: textBody }),
      get(hitOf(1)),
    ],
  },
  {
    id: 'cache-groups-invalidation',
    group: 'invalidation',
    rfc: 'RFC 9875 §3 (Cache-Group-Invalidation on a successful unsafe response invalidates the group)',
    title: "a POST to another URI whose response names the stored response's group invalidates it",
    script: [
      { headers: { ...cc('max-age=60'), 'cache-groups': '"cg-products", "cg-home"' } },
      { status: 200, headers: { 'cache-group-invalidation': '"cg-home"' } },
      fresh,
    ],
    steps: [
      storedMiss,
      get({ status: 200 }, { method: 'POST', path: '/other', body: 'abc', headers: textBody }),
      get(missOf(3, { cacheStatus: cs.stored })),
    ],
  },
  {
    id: 'cache-groups-other-group',
    group: 'invalidation',
    rfc: 'RFC 9875 §3 (only the named groups)',
    title: 'a Cache-Group-Invalidation of another group leaves the entry',
    script: [
      { headers: { ...cc('max-age=60'), 'cache-groups': '"cg-products"' } },
      { status: 200, headers: { 'cache-group-invalidation': '"cg-other"' } },
    ],
    steps: [
      storedMiss,
      get({ status: 200 }, { method: 'POST', path: '/other', body: 'abc', headers: textBody }),
      get(hitOf(1)),
    ],
  },
  {
    id: 'cache-groups-safe-method',
    group: 'invalidation',
    rfc: 'RFC 9875 §3 (a cache MUST ignore Cache-Group-Invalidation on a safe method)',
    title: 'a GET whose response carries Cache-Group-Invalidation invalidates nothing',
    script: [
      { headers: { ...cc('max-age=60'), 'cache-groups': '"cg-products"' } },
      { status: 200, headers: { ...cc('no-store'), 'cache-group-invalidation': '"cg-products"' } },
    ],
    steps: [storedMiss, get({ status: 200 }, { path: '/other' }), get(hitOf(1))],
  },
  {
    id: 'invalidate-route-tags',
    group: 'invalidation',
    rfc: 'specification: fastify.cache.invalidateTags clears route entries with those tags',
    title: 'invalidating a route tag makes the next request a miss',
    only: 'app',
    route: { tags: ['invalidate-route-tags-t'] },
    script: [fresh],
    steps: [
      storedMiss,
      { invalidateTags: ['invalidate-route-tags-t'] },
      get(missOf(2, { cacheStatus: cs.stored })),
    ],
  },
  {
    id: 'invalidate-reply-tags',
    group: 'invalidation',
    rfc: 'specification: reply.cache.tags() then fastify.cache.invalidateTags',
    title: 'invalidating a tag set by reply.cache.tags makes the next request a miss',
    only: 'app',
    script: [{ ...fresh, tags: ['invalidate-reply-tags-t'] }],
    steps: [storedMiss, { invalidateTags: ['invalidate-reply-tags-t'] }, get(missOf(2))],
  },
  {
    id: 'invalidate-other-tag',
    group: 'invalidation',
    rfc: 'specification: invalidateTags clears only entries with those tags',
    title: 'invalidating another tag leaves the entry',
    only: 'app',
    route: { tags: ['invalidate-other-tag-t'] },
    script: [fresh],
    steps: [storedMiss, { invalidateTags: ['invalidate-other-tag-unrelated'] }, get(hitOf(1))],
  },
]

// --- coalescing (RFC 9111 §4: collapsed requests; RFC 9211 §2.6 `collapsed`) ----------------------

const distinctBodies = (responses: readonly HttpResponse[]): string | undefined => {
  const bodies = new Set(responses.map((res) => res.text))
  return bodies.size === responses.length
    ? undefined
    : `expected ${responses.length} different bodies, got ${bodies.size}`
}

const coalescing: Case[] = [
  {
    id: 'coalesce-500',
    group: 'coalescing',
    exclusive: true,
    rfc: 'RFC 9111 §4 (a cache may collapse requests for one key); RFC 9211 §2.6 (collapsed)',
    title: '500 concurrent requests for a cold key run the origin once',
    script: [{ headers: cc('max-age=60'), delayMs: 1000 }],
    steps: [
      get(
        {
          status: 200,
          servedBy: 1,
          originCalls: 1,
          batch: (responses) => {
            const forms = responses.map((res) => {
              const member = res.headers['cache-status']
              return typeof member === 'string' ? member : String(member)
            })
            const stored = forms.filter((form) => form === cs.stored).length
            const others = forms.filter(
              (form) => form !== cs.stored && form !== cs.collapsed && !cs.hit.test(form),
            )
            if (stored !== 1) return `expected exactly one "${cs.stored}", got ${stored}`
            // The origin answers after a second: requests arriving meanwhile must have waited.
            if (!forms.includes(cs.collapsed)) return `expected some "${cs.collapsed}"`
            if (others.length > 0)
              return `unexpected Cache-Status values: ${[...new Set(others)].join(' | ')}`
            return undefined
          },
        },
        { concurrent: 500 },
      ),
    ],
  },
  {
    id: 'coalesce-not-storable',
    group: 'coalescing',
    rfc: 'RFC 9111 §4 (a response that cannot be stored cannot be shared); nginx proxy_cache_lock',
    title: 'when the first response is not storable, the waiters go to the origin themselves',
    script: [{ headers: cc('no-store'), delayMs: 400 }],
    steps: [get({ status: 200, originCalls: 5, batch: distinctBodies }, { concurrent: 5 })],
  },
]

// --- proxy revalidation (RFC 9111 §4.3) ----------------------------------------------------------

const revalidation: Case[] = [
  {
    id: 'revalidate-etag-304',
    group: 'revalidation',
    rfc: 'RFC 9111 §4.3.1 (If-None-Match from the stored ETag), §4.3.4 (the 304 updates the stored headers)',
    title: 'a stale entry is revalidated with If-None-Match and the 304 merged',
    only: 'proxy',
    script: [
      etagged('"e1"', { 'cache-control': 'max-age=2', 'x-version': 'a' }),
      { status: 304, headers: { ...cc('max-age=60'), etag: '"e1"', 'x-version': 'b' } },
    ],
    steps: [
      storedMiss,
      get(
        missOf(1, {
          status: 200,
          originSaw: { 'if-none-match': '"e1"' },
          cacheStatus: cs.revalidated(304),
          headers: { 'x-version': 'b' },
        }),
        { waitMs: STALE_WAIT_MS },
      ),
      get(hitOf(1, { headers: { 'x-version': 'b', 'cache-control': 'max-age=60' }, ttl: [55, 60] })),
    ],
  },
  {
    id: 'revalidate-last-modified-304',
    group: 'revalidation',
    rfc: 'RFC 9111 §4.3.1 (If-Modified-Since from the stored Last-Modified), §4.3.4',
    title: 'a stale entry with Last-Modified is revalidated with If-Modified-Since',
    only: 'proxy',
    script: [
      { headers: { ...cc('max-age=2'), 'last-modified': LAST_MODIFIED } },
      { status: 304, headers: { ...cc('max-age=60'), 'last-modified': LAST_MODIFIED } },
    ],
    steps: [
      storedMiss,
      get(
        missOf(1, { originSaw: { 'if-modified-since': LAST_MODIFIED }, cacheStatus: cs.revalidated(304) }),
        {
          waitMs: STALE_WAIT_MS,
        },
      ),
      get(hitOf(1)),
    ],
  },
  {
    id: 'revalidate-304-content-length',
    group: 'revalidation',
    rfc: 'RFC 9110 §8.6 (a 304 may carry the Content-Length the 200 would have), RFC 9111 §4.3.4 (it updates nothing)',
    title: 'a 304 with Content-Length is merged, and the stored body keeps its own length',
    only: 'proxy',
    script: [
      etagged('"cl"', { 'cache-control': 'max-age=2' }),
      { status: 304, headers: { ...cc('max-age=60'), etag: '"cl"', 'content-length': '1234' } },
    ],
    steps: [
      storedMiss,
      get(
        missOf(1, {
          status: 200,
          cacheStatus: cs.revalidated(304),
          bodyLength: 'revalidate-304-content-length call=1'.length,
          headers: { 'content-length': String('revalidate-304-content-length call=1'.length) },
        }),
        { waitMs: STALE_WAIT_MS },
      ),
      get(hitOf(1)),
    ],
  },
  {
    id: 'revalidate-200-replaces',
    group: 'revalidation',
    rfc: 'RFC 9111 §4.3.3 (a full response replaces the stored one)',
    title: 'a 200 to the revalidation replaces the entry',
    only: 'proxy',
    script: [etagged('"e1"', { 'cache-control': 'max-age=2' }), etagged('"e2"')],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.revalidated(200) }), { waitMs: STALE_WAIT_MS }),
      get(hitOf(2, { headers: { etag: '"e2"' } })),
    ],
  },
  {
    id: 'no-cache-revalidated',
    group: 'revalidation',
    rfc: 'RFC 9111 §5.2.2.4 (no-cache: stored, validated before every reuse)',
    title: 'a no-cache response is stored and revalidated on each use',
    only: 'proxy',
    script: [
      etagged('"n1"', { 'cache-control': 'no-cache, max-age=60' }),
      { status: 304, headers: { ...cc('no-cache, max-age=60'), etag: '"n1"' } },
    ],
    steps: [
      storedMiss,
      get(missOf(1, { originSaw: { 'if-none-match': '"n1"' }, cacheStatus: cs.revalidated(304) })),
      get(missOf(1, { originSaw: { 'if-none-match': '"n1"' } })),
    ],
  },
  {
    id: 'connection-listed-headers',
    group: 'revalidation',
    rfc: 'RFC 9110 §7.6.1 (headers named in Connection are hop-by-hop); RFC 9111 §3.1',
    title: 'headers named in Connection are not stored',
    only: 'proxy',
    script: [{ headers: { ...cc('max-age=60'), connection: 'x-hop', 'x-hop': '1', 'x-end': '2' } }],
    steps: [storedMiss, get(hitOf(1, { headers: { 'x-hop': null, 'x-end': '2' } }))],
  },
]

// --- request directives (RFC 9111 §5.2.1) --------------------------------------------------------

const requestDirectives: Case[] = [
  {
    id: 'request-no-cache-ignored',
    group: 'request-directives',
    rfc: 'specification: client no-cache ignored by default, like nginx and Varnish (RFC 9111 §5.2.1.4 is honoured with an option)',
    title: 'by default a client no-cache is served from the cache',
    script: [fresh],
    steps: [storedMiss, get(hitOf(1), { headers: { 'cache-control': 'no-cache' } })],
  },
  {
    id: 'request-pragma-ignored',
    group: 'request-directives',
    rfc: 'specification: client Pragma: no-cache ignored by default (RFC 9111 §5.4)',
    title: 'by default Pragma: no-cache is served from the cache',
    script: [fresh],
    steps: [storedMiss, get(hitOf(1), { headers: { pragma: 'no-cache' } })],
  },
  {
    id: 'honor-request-no-cache',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.4 (request no-cache: do not use a stored response without validation)',
    title: 'with honorRequestNoCache a client no-cache goes to the origin and refreshes the entry',
    plugin: { honorRequestNoCache: true },
    script: [fresh],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.request }), { headers: { 'cache-control': 'no-cache' } }),
      get(hitOf(2)),
    ],
  },
  {
    id: 'honor-pragma-no-cache',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.4 (Pragma: no-cache is no-cache when Cache-Control is absent)',
    title: 'with honorRequestNoCache Pragma: no-cache goes to the origin',
    plugin: { honorRequestNoCache: true },
    script: [fresh],
    steps: [storedMiss, get(missOf(2, { cacheStatus: cs.request }), { headers: { pragma: 'no-cache' } })],
  },
  {
    id: 'strict-only-if-cached-miss',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.7 (only-if-cached: 504 when nothing is stored)',
    title: 'only-if-cached on a cold key is a 504 without an origin call',
    plugin: { strict: true },
    script: [fresh],
    steps: [get({ status: 504, originCalls: 0 }, { headers: { 'cache-control': 'only-if-cached' } })],
  },
  {
    id: 'strict-only-if-cached-hit',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.7 (only-if-cached: a stored response is fine)',
    title: 'only-if-cached with a stored entry is a hit',
    plugin: { strict: true },
    script: [fresh],
    steps: [storedMiss, get(hitOf(1), { headers: { 'cache-control': 'only-if-cached' } })],
  },
  {
    id: 'strict-max-age-0',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.1 (request max-age: no response older than that)',
    title: 'request max-age=0 goes to the origin',
    plugin: { strict: true },
    script: [fresh],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.request }), {
        waitMs: 1100,
        headers: { 'cache-control': 'max-age=0' },
      }),
    ],
  },
  {
    id: 'strict-min-fresh',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.3 (min-fresh: fresh for at least N more seconds)',
    title: 'min-fresh=120 on a 60 s entry goes to the origin',
    plugin: { strict: true },
    script: [fresh],
    steps: [storedMiss, get(missOf(2), { headers: { 'cache-control': 'min-fresh=120' } })],
  },
  {
    id: 'strict-max-stale',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.2, §4.2.4 (max-stale: the client accepts a stale response)',
    title: 'max-stale=60 is served a stale entry',
    plugin: { strict: true },
    script: [{ headers: cc('max-age=2') }],
    steps: [
      storedMiss,
      get(
        { cached: true, servedBy: 1, age: [3, 8] },
        { waitMs: STALE_WAIT_MS, headers: { 'cache-control': 'max-stale=60' } },
      ),
    ],
  },
  {
    id: 'strict-no-cache',
    group: 'request-directives',
    rfc: 'RFC 9111 §5.2.1.4 (request no-cache)',
    title: 'in strict mode a client no-cache goes to the origin and refreshes the entry',
    plugin: { strict: true },
    script: [fresh],
    steps: [
      storedMiss,
      get(missOf(2, { cacheStatus: cs.request }), { headers: { 'cache-control': 'no-cache' } }),
      get(hitOf(2)),
    ],
  },
]

// --- ranges (RFC 9110 §14, §13.1.5) -------------------------------------------------------------

/** The default body of origin call 1 of case `id`, for range expectations. */
const body1 = (id: string): string => `${id} call=1`
const WEAK_OR_STRONG = '"r1"'

const rangeCase = (
  id: string,
  title: string,
  rfc: string,
  requestHeaders: Record<string, string | ((ctx: StepContext) => string)>,
  expect: (body: string) => Expectation,
  script: ScriptResponse[] = [etagged(WEAK_OR_STRONG, { 'last-modified': LAST_MODIFIED })],
): Case => ({
  id,
  group: 'range',
  rfc,
  title,
  script,
  steps: [storedMiss, get({ cached: true, ...expect(body1(id)) }, { headers: requestHeaders })],
})

const ranges: Case[] = [
  rangeCase(
    'range-from-stored',
    'a single byte range is a 206 from the stored complete response',
    'RFC 9110 §14.1.2, §15.3.7 (206 with Content-Range); RFC 9111 §3.4',
    { range: 'bytes=0-4' },
    (body) => ({
      status: 206,
      body: body.slice(0, 5),
      cacheStatus: cs.hit,
      headers: {
        'content-range': `bytes 0-4/${body.length}`,
        'content-length': '5',
        'accept-ranges': 'bytes',
        etag: WEAK_OR_STRONG,
      },
    }),
  ),
  rangeCase(
    'range-open-ended',
    'bytes=N- runs to the end',
    'RFC 9110 §14.1.2 (absent last-pos: to the end)',
    { range: 'bytes=3-' },
    (body) => ({
      status: 206,
      body: body.slice(3),
      headers: { 'content-range': `bytes 3-${body.length - 1}/${body.length}` },
    }),
  ),
  rangeCase(
    'range-suffix',
    'bytes=-N is the last N bytes',
    'RFC 9110 §14.1.2 (suffix-range)',
    { range: 'bytes=-4' },
    (body) => ({
      status: 206,
      body: body.slice(-4),
      headers: { 'content-range': `bytes ${body.length - 4}-${body.length - 1}/${body.length}` },
    }),
  ),
  rangeCase(
    'range-past-end-clipped',
    'a last-pos past the end is clipped to the length',
    'RFC 9110 §14.1.2 (last-pos past the end: up to the last byte)',
    { range: 'bytes=2-100000' },
    (body) => ({
      status: 206,
      body: body.slice(2),
      headers: { 'content-range': `bytes 2-${body.length - 1}/${body.length}` },
    }),
  ),
  rangeCase(
    'range-unsatisfiable',
    'a range past the end is a 416 with the length',
    'RFC 9110 §15.5.17 (416, Content-Range: bytes */length)',
    { range: 'bytes=100000-' },
    (body) => ({
      status: 416,
      emptyBody: true,
      headers: { 'content-range': `bytes */${body.length}`, etag: null, 'cache-control': null },
    }),
  ),
  rangeCase(
    'range-multiple-whole',
    'several ranges get the whole stored response',
    'RFC 9110 §14.2 (a server MAY ignore Range)',
    { range: 'bytes=0-1,3-4' },
    (body) => ({ status: 200, body, headers: { 'content-range': null } }),
  ),
  rangeCase(
    'range-other-unit-whole',
    'an unknown range unit gets the whole stored response',
    'RFC 9110 §14.2 (an unknown unit is ignored)',
    { range: 'items=0-1' },
    (body) => ({ status: 200, body }),
  ),
  rangeCase(
    'range-if-range-etag',
    'If-Range with the stored strong ETag: the range',
    'RFC 9110 §13.1.5 (If-Range matches a strong entity-tag)',
    { range: 'bytes=0-1', 'if-range': WEAK_OR_STRONG },
    (body) => ({ status: 206, body: body.slice(0, 2) }),
  ),
  rangeCase(
    'range-if-range-other-etag',
    'If-Range with another ETag: the whole stored response',
    'RFC 9110 §13.1.5 (no match: the Range is ignored)',
    { range: 'bytes=0-1', 'if-range': '"other"' },
    (body) => ({ status: 200, body }),
  ),
  rangeCase(
    'range-if-range-weak',
    'If-Range never matches a weak ETag',
    'RFC 9110 §13.1.5 (strong comparison only)',
    { range: 'bytes=0-1', 'if-range': 'W/"w1"' },
    (body) => ({ status: 200, body }),
    [etagged('W/"w1"')],
  ),
  rangeCase(
    'range-if-range-date',
    'If-Range with the stored Last-Modified: the range',
    'RFC 9110 §13.1.5 (an HTTP-date matching a strong Last-Modified)',
    { range: 'bytes=0-1', 'if-range': LAST_MODIFIED },
    (body) => ({ status: 206, body: body.slice(0, 2) }),
  ),
  {
    id: 'range-head-whole',
    group: 'range',
    rfc: 'RFC 9110 §14.2 (range handling is defined for GET only)',
    title: 'a HEAD with Range gets the whole response head',
    script: [fresh],
    steps: [
      storedMiss,
      get(
        { status: 200, cached: true, emptyBody: true, headers: { 'content-range': null } },
        {
          method: 'HEAD',
          headers: { range: 'bytes=0-1' },
        },
      ),
    ],
  },
  {
    id: 'range-partial-not-stored',
    group: 'range',
    rfc: 'RFC 9111 §3.3 (a partial response is never stored as a complete one)',
    title: "the origin's 206 to a Range miss passes through and is not stored",
    script: [
      { status: 206, headers: { ...cc('max-age=60'), 'content-range': 'bytes 0-4/10' }, body: '01234' },
      { ...fresh, body: '0123456789' },
    ],
    steps: [
      get(
        { status: 206, cached: false, body: '01234', cacheStatus: cs.notStored('STATUS') },
        { headers: { range: 'bytes=0-4' } },
      ),
      get({ status: 200, cached: false, body: '0123456789', cacheStatus: cs.stored }),
      get({ status: 206, cached: true, body: '56789' }, { headers: { range: 'bytes=5-' } }),
    ],
  },
]

/** Every case, in report order. */
export const cases: readonly Case[] = [
  ...storability,
  ...requestBypass,
  ...freshness,
  ...targeted,
  ...age,
  ...vary,
  ...key,
  ...cacheStatus,
  ...cdnTags,
  ...conditional,
  ...head,
  ...stale,
  ...invalidation,
  ...coalescing,
  ...revalidation,
  ...requestDirectives,
  ...ranges,
]

/** The cases of one mode. */
export function casesFor(mode: 'app' | 'proxy'): Case[] {
  return cases.filter((c) => c.only === undefined || c.only === mode)
}

// Ids are paths; a duplicate would make two cases share an origin script.
const seen = new Set<string>()
for (const c of cases) {
  if (seen.has(c.id)) throw new Error(`duplicate case id ${c.id}`)
  if (!/^[a-z0-9-]+$/.test(c.id)) throw new Error(`case id ${c.id} must be lowercase letters, digits and '-'`)
  seen.add(c.id)
}
