// Poisoning and leakage through the route cache, over real sockets, in both places it runs:
// in-app (the routes carry `config: { cache }`) and behind the caching proxy (the same routes on
// a separate origin). Each origin below is deliberately naive - it reflects the headers an
// attacker controls, marks personal pages public - because the cache must stay safe in front
// of such apps (research: failure-and-security.md §3.1-§3.6, mission-anchors.md §3.4).
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { type CacheStore, MemoryStore } from '@fastify-perf/cache'
import { buildProxy } from '@fastify-perf/example-caching-proxy'
import { type HttpResponse, request } from '@fastify-perf/test-helpers'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Pool } from 'undici'
import { rawRequest } from './support/raw-request.js'
import {
  cacheRoute,
  type RouteCacheConfig,
  type RouteCacheOptions,
  registerRouteCache,
} from './support/route-cache-api.js'

type Mode = 'app' | 'proxy'

/** Registers routes; `cache` is the route cache config in-app, `undefined` on a proxy's origin. */
type DefineRoutes = (app: FastifyInstance, cache: (config?: RouteCacheConfig) => object) => void

interface Setup {
  mode: Mode
  base: string
}

interface SetupOptions {
  plugin?: RouteCacheOptions
  store?: CacheStore
  /** Fastify options of the app (in-app) or the origin (proxy). */
  fastify?: FastifyServerOptions
}

/** Starts `routes` in `mode`; everything started is closed after the test. */
async function start(
  t: TestContext,
  mode: Mode,
  routes: DefineRoutes,
  opts: SetupOptions = {},
): Promise<Setup> {
  const app = Fastify({ logger: false, ...opts.fastify })
  t.after(() => app.close())
  if (mode === 'app') {
    await registerRouteCache(app, opts.plugin ?? {}, opts.store === undefined ? {} : { store: opts.store })
    routes(app, (config) => cacheRoute(config ?? true))
    return { mode, base: await app.listen({ host: '127.0.0.1', port: 0 }) }
  }
  routes(app, () => ({}))
  const upstream = await app.listen({ host: '127.0.0.1', port: 0 })
  const { proxy: _ignored, ...cache } = opts.plugin ?? {}
  const proxy = await buildProxy({
    upstream,
    cache,
    ...(opts.store === undefined ? {} : { store: opts.store }),
  })
  t.after(() => proxy.close())
  return { mode, base: await proxy.listen({ host: '127.0.0.1', port: 0 }) }
}

function header(res: HttpResponse, name: string): string | undefined {
  const value = res.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

const MODES: readonly Mode[] = ['app', 'proxy']

for (const mode of MODES) {
  describe(`route cache security (${mode === 'app' ? 'in-app' : 'behind the caching proxy'})`, () => {
    // --- §3.2 Authorization, Cookie, Set-Cookie -----------------------------------------------

    test("one user's Authorization response never reaches another, even marked public", async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/me', cache(), async (request, reply) => {
          reply.header('cache-control', 'public, max-age=60')
          return `user=${request.headers.authorization ?? 'anonymous'}`
        })
      })
      const as = (user: string | undefined) =>
        request(`${base}/me`, user === undefined ? {} : { headers: { authorization: `Bearer ${user}` } })
      // Anonymous first, so a stored entry exists for the users' requests to wrongly hit.
      assert.equal((await as(undefined)).text, 'user=anonymous')
      const mixed = ['alice', undefined, 'bob', 'alice', undefined, 'bob', 'carol', undefined]
      const rounds = await Promise.all(
        Array.from({ length: 5 }, () => Promise.all(mixed.map((user) => as(user)))),
      )
      for (const responses of rounds) {
        for (const [i, res] of responses.entries()) {
          const user = mixed[i]
          assert.equal(res.text, `user=${user === undefined ? 'anonymous' : `Bearer ${user}`}`)
          if (user !== undefined)
            assert.match(header(res, 'cache-status') ?? '', /fwd=bypass; detail=AUTHORIZATION/)
        }
      }
    })

    test("one user's Cookie response never reaches another", async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/cart', cache(), async (request, reply) => {
          reply.header('cache-control', 'max-age=60')
          return `cart=${request.headers.cookie ?? 'empty'}`
        })
      })
      const as = (cookie: string | undefined) =>
        request(`${base}/cart`, cookie === undefined ? {} : { headers: { cookie } })
      assert.equal((await as('sid=alice')).text, 'cart=sid=alice')
      assert.equal((await as(undefined)).text, 'cart=empty')
      assert.equal((await as('sid=bob')).text, 'cart=sid=bob')
      const again = await as(undefined)
      assert.equal(again.text, 'cart=empty')
      assert.match(header(again, 'cache-status') ?? '', /; hit; /)
      assert.match(header(await as('sid=alice'), 'cache-status') ?? '', /fwd=bypass; detail=COOKIE/)
    })

    if (mode === 'app') {
      test('with allowAuthorization, concurrent users each get their own entry', async (t) => {
        const { base } = await start(t, mode, (app, cache) => {
          app.get('/me', cache({ allowAuthorization: true }), async (request, reply) => {
            reply.header('cache-control', 'max-age=60')
            return `user=${request.headers.authorization ?? 'anonymous'}`
          })
        })
        const users = ['Bearer alice', 'Bearer bob', undefined, 'Bearer carol']
        for (let round = 0; round < 3; round++) {
          const responses = await Promise.all(
            Array.from({ length: 40 }, (_, i) => {
              const user = users[i % users.length]
              return request(`${base}/me`, user === undefined ? {} : { headers: { authorization: user } })
            }),
          )
          for (const [i, res] of responses.entries()) {
            assert.equal(res.text, `user=${users[i % users.length] ?? 'anonymous'}`)
          }
        }
      })
    }

    test('a Set-Cookie response is never served from the cache', async (t) => {
      let calls = 0
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/login', cache(), async (_request, reply) => {
          calls++
          reply.header('cache-control', 'public, max-age=60')
          reply.header('set-cookie', `sid=${calls}; HttpOnly`)
          return `login ${calls}`
        })
        // Sets a cookie only on its first answer: the later, cookie-free answer is stored, and
        // a hit must never replay the first one's cookie.
        let sometimes = 0
        app.get('/sometimes', cache(), async (_request, reply) => {
          sometimes++
          reply.header('cache-control', 'max-age=60')
          if (sometimes === 1) reply.header('set-cookie', 'sid=first')
          return `sometimes ${sometimes}`
        })
      })
      const cookies = new Set<string>()
      for (let i = 1; i <= 20; i++) {
        const res = await request(`${base}/login`)
        assert.equal(res.text, `login ${i}`)
        cookies.add(header(res, 'set-cookie') ?? '')
        assert.match(header(res, 'cache-status') ?? '', /detail=SET-COOKIE/)
      }
      assert.equal(cookies.size, 20, 'every client got its own cookie')
      assert.equal(calls, 20)

      assert.equal(header(await request(`${base}/sometimes`), 'set-cookie'), 'sid=first')
      const second = await request(`${base}/sometimes`)
      assert.equal(second.text, 'sometimes 2')
      for (let i = 0; i < 5; i++) {
        const hit = await request(`${base}/sometimes`)
        assert.equal(hit.text, 'sometimes 2')
        assert.equal(hit.headers['set-cookie'], undefined)
      }
    })

    // --- §3.1 unkeyed inputs ---------------------------------------------------------------------

    test('X-Forwarded-Host cannot place a response under the real host', async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/home', cache(), async (request, reply) => {
          reply.header('cache-control', 'max-age=60')
          // In-app the page is built from request.host (trustProxy off: the Host header); behind
          // the proxy a naive origin reflects X-Forwarded-Host, which the proxy rewrites.
          const host = mode === 'app' ? request.host : (request.headers['x-forwarded-host'] ?? request.host)
          return `<a href="http://${host}/next">next</a>`
        })
      })
      // The attacker goes first, on a cold key: the worst case.
      const attack = await request(`${base}/home`, { headers: { 'x-forwarded-host': 'evil.example' } })
      assert.doesNotMatch(attack.text, /evil/)
      for (let i = 0; i < 3; i++) assert.doesNotMatch((await request(`${base}/home`)).text, /evil/)
    })

    if (mode === 'app') {
      test('with trustProxy the key follows request.host, so the forged host gets its own entry', async (t) => {
        const { base } = await start(
          t,
          mode,
          (app, cache) => {
            app.get('/home', cache(), async (request, reply) => {
              reply.header('cache-control', 'max-age=60')
              return `<a href="http://${request.host}/next">next</a>`
            })
          },
          { fastify: { trustProxy: true } },
        )
        const attack = await request(`${base}/home`, { headers: { 'x-forwarded-host': 'evil.example' } })
        assert.match(attack.text, /evil\.example/)
        const victim = await request(`${base}/home`)
        assert.doesNotMatch(victim.text, /evil/)
        assert.match(header(victim, 'cache-status') ?? '', /fwd=uri-miss; stored/)
      })
    }

    for (const [name, value] of [
      ['x-original-url', '/admin'],
      ['x-rewrite-url', '/admin'],
      ['x-http-method-override', 'DELETE'],
    ] as const) {
      test(`${name} cannot place another page under the requested URL`, async (t) => {
        const { base } = await start(t, mode, (app, cache) => {
          app.get('/home', cache(), async (request, reply) => {
            reply.header('cache-control', 'max-age=60')
            // A framework that honours the override header, as IIS and some PHP stacks do.
            const override = request.headers[name]
            if (name === 'x-http-method-override' && override !== undefined) {
              reply.code(200)
              return `deleted by ${override}`
            }
            return override === undefined ? 'home page' : `page ${override}`
          })
        })
        const attack = await request(`${base}/home`, { headers: { [name]: value } })
        assert.match(header(attack, 'cache-status') ?? '', /fwd=bypass; detail=METHOD-OVERRIDE/)
        for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/home`)).text, 'home page')
      })
    }

    test('a huge Accept-Language cannot poison or deny the page (CPDoS header oversize)', async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        for (const path of ['/cold', '/warm']) {
          app.get(path, cache(), async (request, reply) => {
            reply.header('cache-control', 'max-age=60')
            reply.header('vary', 'Accept-Language')
            const language = request.headers['accept-language'] ?? ''
            // An origin with a smaller header limit than the cache answers 400 (and says max-age).
            if (language.length > 1000) {
              reply.code(400)
              return 'header too large'
            }
            return `page in ${language.split(',')[0] || 'default'}`
          })
        }
      })
      const huge = `en,${'x-private-use;q=0.1,'.repeat(400)}`
      // Cold key, attacker first: the 400 is not stored.
      const coldAttack = await request(`${base}/cold`, { headers: { 'accept-language': huge } })
      assert.equal(coldAttack.status, 400)
      const coldVictim = await request(`${base}/cold`, { headers: { 'accept-language': 'en' } })
      assert.equal(coldVictim.status, 200)
      assert.equal(coldVictim.text, 'page in en')
      // Warm key: the attacker's request bypasses the cache (its Vary value is over the limit).
      assert.equal((await request(`${base}/warm`, { headers: { 'accept-language': 'en' } })).status, 200)
      const warmAttack = await request(`${base}/warm`, { headers: { 'accept-language': huge } })
      assert.match(header(warmAttack, 'cache-status') ?? '', /fwd=bypass; detail=VARY-TOO-LARGE/)
      const warmVictim = await request(`${base}/warm`, { headers: { 'accept-language': 'en' } })
      assert.equal(warmVictim.text, 'page in en')
      assert.match(header(warmVictim, 'cache-status') ?? '', /; hit; /)
    })

    test("';' parameter cloaking cannot smuggle a parameter past the key", async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/search', cache(), async (request, reply) => {
          reply.header('cache-control', 'max-age=60')
          return `q=${(request.query as { q?: string }).q}`
        })
      })
      // CVE-2021-23336: a parser that splits on ';' would read q=evil here. Fastify's does not,
      // and the key is built from the same split, so these requests are what they look like.
      const cloaked = await request(`${base}/search?q=safe&utm_source=x;q=evil`)
      assert.equal(cloaked.text, 'q=safe')
      const glued = await request(`${base}/search?q=safe;q=evil`)
      assert.equal(glued.text, 'q=safe;q=evil')
      for (let i = 0; i < 3; i++) {
        const victim = await request(`${base}/search?q=safe`)
        assert.equal(victim.text, 'q=safe')
      }
    })

    test('a fat GET cannot place its response under the plain GET', async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/item', cache(), async (request, reply) => {
          reply.header('cache-control', 'max-age=60')
          // An origin that reads a GET body (some frameworks merge it into the parameters).
          let body = ''
          for await (const chunk of request.raw) body += String(chunk)
          return `item ${body || 'default'}`
        })
      })
      const attack = await rawRequest(base, '/item', {
        body: 'evil',
        headers: { 'content-type': 'text/plain' },
      })
      assert.match(header(attack, 'cache-status') ?? '', /fwd=bypass; detail=BODY/)
      for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/item`)).text, 'item default')
    })

    test('%2F, %2E%2E, dot segments and ;params stay separate entries', async (t) => {
      let calls = 0
      const { base } = await start(t, mode, (app, cache) => {
        app.get('/files/*', cache(), async (request, reply) => {
          calls++
          reply.header('cache-control', 'max-age=60')
          return `path=${request.url}`
        })
      })
      const paths = [
        '/files/a/b',
        '/files/a%2Fb',
        '/files/a%2fb',
        '/files/x/%2E%2E/a/b',
        '/files/x/%2e%2e/a/b',
        '/files/x/../a/b',
        '/files/a/./b',
        '/files/a//b',
        '/files/a;x=1/b',
        '/files/a/b;jsessionid=1',
      ]
      const first = new Map<string, HttpResponse>()
      for (const path of paths) {
        const callsBefore = calls
        const res = await rawRequest(base, path)
        first.set(path, res)
        // A new raw path is never answered from another path's entry.
        assert.doesNotMatch(
          header(res, 'cache-status') ?? '',
          /; hit; /,
          `${path} was a hit on first request`,
        )
        if (mode === 'app') {
          assert.equal(res.text, `path=${path}`)
          assert.equal(calls, callsBefore + 1)
        } else if (res.status === 200) {
          assert.equal(calls, callsBefore + 1, `${path} was not forwarded`)
        } else {
          // reply-from refuses dot-dot segments (raw or encoded) rather than normalising them.
          assert.equal(res.status, 400, `${path}: ${res.status} ${res.text}`)
        }
      }
      for (const path of paths) {
        const again = await rawRequest(base, path)
        const original = first.get(path)!
        assert.equal(again.status, original.status, path)
        assert.equal(again.text, original.text, `${path} got another entry's body`)
        if (original.status === 200) assert.match(header(again, 'cache-status') ?? '', /; hit; /, path)
      }
    })

    test('/account/x.css deception: cacheability comes from the response, not the extension', async (t) => {
      const { base } = await start(t, mode, (app, cache) => {
        // A lenient router: /account/anything renders the account page.
        app.get('/account/*', cache(), async (request, reply) => {
          const session = request.headers.authorization ?? request.headers['x-session']
          if (session === undefined) {
            reply.header('cache-control', 'max-age=60')
            return 'please log in'
          }
          reply.header('cache-control', 'private, max-age=60')
          return `account of ${session}`
        })
      })
      // The victim follows the attacker's link while logged in (Authorization, or a custom
      // session header the cache does not know about: then `private` is what protects it).
      const byAuth = await request(`${base}/account/x.css`, { headers: { authorization: 'Bearer victim' } })
      assert.equal(byAuth.text, 'account of Bearer victim')
      const bySession = await request(`${base}/account/y.css`, { headers: { 'x-session': 'victim-2' } })
      assert.equal(bySession.text, 'account of victim-2')
      assert.match(header(bySession, 'cache-status') ?? '', /detail=PRIVATE/)
      for (const path of ['/account/x.css', '/account/y.css']) {
        const attacker = await request(`${base}${path}`)
        assert.equal(attacker.text, 'please log in', path)
      }
    })

    // --- §3.6 resource exhaustion ------------------------------------------------------------------

    test('hundreds of Accept-Encoding spellings collapse into a handful of variants', async (t) => {
      const store = new MemoryStore({ maxSize: '4MB' })
      t.after(() => store.close())
      let calls = 0
      const { base } = await start(
        t,
        mode,
        (app, cache) => {
          app.get('/asset', cache(), async (_request, reply) => {
            calls++
            reply.header('cache-control', 'max-age=60')
            reply.header('vary', 'Accept-Encoding')
            return 'a'.repeat(2048)
          })
        },
        { store },
      )
      const spellings = acceptEncodingSpellings(400)
      assert.equal(new Set(spellings).size, 400)
      const sendAll = async () => {
        const responses: HttpResponse[] = []
        for (let i = 0; i < spellings.length; i += 50) {
          const batch = spellings.slice(i, i + 50)
          responses.push(
            ...(await Promise.all(
              batch.map((spelling) => request(`${base}/asset`, { headers: { 'accept-encoding': spelling } })),
            )),
          )
        }
        for (const res of responses) assert.equal(res.status, 200)
        return responses
      }
      // Cold, 50 at a time: before the first response nobody knows the URL varies, so a few
      // concurrent misses may each reach the origin; still a handful, not hundreds.
      await sendAll()
      assert.ok(calls <= 8, `${calls} origin calls for 400 spellings of four coding sets`)
      assert.ok(store.entries <= 8, `${store.entries} entries stored`)
      // Warm: every spelling maps onto a stored variant, so none reaches the origin.
      const warmCalls = calls
      const warm = await sendAll()
      assert.equal(calls, warmCalls, 'a spelling made a new variant')
      for (const res of warm) assert.match(header(res, 'cache-status') ?? '', /; hit; /)
      assert.ok(store.entries <= 8, `${store.entries} entries stored`)
      assert.ok(store.size <= store.maxSize)
    })

    if (mode === 'app') {
      test('100,000 unique URLs keep the memory store and the process within bounds', async (t) => {
        const store = new MemoryStore({ maxSize: '8MB' })
        t.after(() => store.close())
        const { base } = await start(
          t,
          mode,
          (app, cache) => {
            app.get('/u/:id', cache(), async (request, reply) => {
              reply.header('cache-control', 'max-age=600')
              return `user page ${(request.params as { id: string }).id} ${'.'.repeat(200)}`
            })
          },
          { store },
        )
        const gc = exposeGc()
        const total = 100_000
        const pool = new Pool(base, { connections: 32, pipelining: 1 })
        t.after(() => pool.close())
        let next = 0
        let failed = 0
        let maxSize = 0
        const run = async (until: number) => {
          const worker = async () => {
            while (next < until) {
              const id = next++
              // Unique paths and unique queries, half each: both are cache-busting vectors.
              const path = id % 2 === 0 ? `/u/${id}` : `/u/q?bust=${id}`
              const res = await pool.request({ path, method: 'GET' })
              await res.body.dump()
              if (res.statusCode !== 200) failed++
              if (id % 1000 === 0) maxSize = Math.max(maxSize, store.size)
            }
          }
          await Promise.all(Array.from({ length: 32 }, worker))
        }
        const retained = () => {
          // Twice: the first pass can leave objects with finalizers for the second.
          gc()
          gc()
          const usage = process.memoryUsage()
          return usage.heapUsed + usage.arrayBuffers
        }
        const atStart = retained()
        // By 40,000 URLs the 8 MB store is full and evicting; from there on memory must stay flat.
        await run(40_000)
        const whenFull = retained()
        await run(total)
        const atEnd = retained()
        assert.equal(failed, 0)
        maxSize = Math.max(maxSize, store.size)
        assert.ok(maxSize <= store.maxSize, `store held ${maxSize} bytes, bound ${store.maxSize}`)
        assert.ok(store.entries < total / 2, `${store.entries} entries: older ones must have been evicted`)
        const MB = 1024 * 1024
        const plateau = atEnd - whenFull
        // 60,000 more URLs after the store filled: an index of keys, variants or locks that grows
        // per URL would show here (60,000 keys are several MB); the bounded store does not.
        assert.ok(
          plateau < 4 * MB,
          `heap + buffers grew ${(plateau / MB).toFixed(1)} MB after the store was full`,
        )
        const grown = atEnd - atStart
        t.diagnostic(
          `100000 URLs: store ${store.entries} entries, ${(maxSize / MB).toFixed(2)} MB max (bound 8 MB); heap+buffers ${(atStart / MB).toFixed(1)} MB -> ${(whenFull / MB).toFixed(1)} MB at 40000 URLs -> ${(atEnd / MB).toFixed(1)} MB at 100000`,
        )
        assert.ok(grown < 64 * MB, `heap + buffers grew ${(grown / MB).toFixed(1)} MB in total`)
      })
    }
  })
}

/**
 * `count` different `Accept-Encoding` values that all name one of four sets of known codings:
 * orders, q-values, whitespace, case and unknown codings vary.
 */
function acceptEncodingSpellings(count: number): string[] {
  const sets = [['gzip'], ['br'], ['br', 'gzip'], ['gzip', 'deflate', 'br']]
  const out = new Set<string>()
  let i = 0
  while (out.size < count) {
    const set = sets[i % sets.length]!
    const n = Math.floor(i / sets.length)
    const ordered = n % 2 === 0 ? set : [...set].reverse()
    const parts = ordered.map((coding, j) => {
      const name = (n >> 1) % 2 === 0 ? coding : coding.toUpperCase()
      const q = (n >> 2) % 3 === 0 ? '' : `;q=0.${9 - j}`
      return `${name}${q}`
    })
    if ((n >> 3) % 2 === 1) parts.push(`x-custom-${n % 7}`)
    const sep = (n >> 4) % 2 === 0 ? ', ' : ','
    out.add(`${parts.join(sep)}${' '.repeat(n % 3)}`.trim() + (n >= 64 ? `, x-n${n}` : ''))
    i++
  }
  return [...out]
}

/** `global.gc` without starting Node with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
