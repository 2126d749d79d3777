// Issue 17, "registration order really does not matter, and no false warnings": the four plugins
// registered in each of the 24 orders give the same app: a cached route that hits, compressed
// JSON (stored compressed), a static file with its policy, Server-Timing with the cache phase,
// /metrics, and not one line at `warn` or above while registering, starting and serving. It found
// a 500 on every static file when the static plugin was registered before the timing plugin.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import fastifyPerfStatic from '@fastify-perf/static'
import { listen, request } from '@fastify-perf/test-helpers'
import fastifyPerfTiming from '@fastify-perf/timing'
import Fastify, { type FastifyInstance } from 'fastify'

const assets = mkdtempSync(join(tmpdir(), 'fastify-perf-order-'))
writeFileSync(join(assets, 'app.3f9a2c1b.js'), `console.log(${JSON.stringify('x'.repeat(4000))})\n`)

type Name = 'cache' | 'compress' | 'static' | 'timing'
const register: Record<Name, (app: FastifyInstance) => Promise<unknown>> = {
  cache: async (app) => app.register(fastifyPerfCache, { routes: { ttl: '1m' } }),
  compress: async (app) => app.register(fastifyPerfCompress),
  static: async (app) => app.register(fastifyPerfStatic, { root: assets, prefix: '/assets/' }),
  timing: async (app) => app.register(fastifyPerfTiming, { serverTiming: { expose: () => true } }),
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]]
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  )
}

for (const order of permutations<Name>(['cache', 'compress', 'static', 'timing'])) {
  test(`registered as ${order.join(', ')}: same behaviour, no warning`, async (t) => {
    const lines: Array<{ level: number; msg: string }> = []
    const app = Fastify({
      logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    })
    t.after(() => app.close())
    for (const name of order) await register[name](app)
    let renders = 0
    app.get('/products', { config: { cache: true } }, async (_req, reply) => {
      renders++
      reply.header('cache-control', 'public, max-age=60')
      return { products: Array.from({ length: 50 }, (_, id) => ({ id, name: `product ${id}` })) }
    })
    const base = await listen(app)
    const headers = { 'accept-encoding': 'br' }
    const miss = await request(`${base}/products`, { headers })
    assert.equal(miss.status, 200)
    assert.equal(miss.headers['content-encoding'], 'br')
    assert.match(String(miss.headers['cache-status']), /stored/)
    assert.match(String(miss.headers['server-timing']), /cache;desc="miss"/)
    let hit = await request(`${base}/products`, { headers })
    for (let i = 0; i < 50 && !/; hit/.test(String(hit.headers['cache-status'])); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      hit = await request(`${base}/products`, { headers })
    }
    assert.match(String(hit.headers['cache-status']), /; hit/)
    assert.equal(hit.headers['content-encoding'], 'br')
    assert.ok(hit.headers.age !== undefined)
    assert.match(String(hit.headers['server-timing']), /cache;desc="hit"/)
    assert.equal(renders, 1)
    const asset = await request(`${base}/assets/app.3f9a2c1b.js`, { headers })
    assert.equal(asset.status, 200)
    assert.match(String(asset.headers['cache-control']), /immutable/)
    // Compression reaches the routes declared after it, like @fastify/compress: the static
    // plugin declares its route when it registers (docs/static.md: register compress first).
    if (order.indexOf('compress') < order.indexOf('static'))
      assert.equal(asset.headers['content-encoding'], 'br')
    const metrics = await request(`${base}/metrics`)
    assert.match(metrics.text, /fastify_perf_route_cache_responses_total\{[^}]*outcome="hit"[^}]*\} [1-9]/)
    const loud = lines.filter((line) => line.level >= 40)
    assert.deepEqual(loud, [], 'no warning or error')
  })
}
