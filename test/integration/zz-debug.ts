import { fastifyPerfCache } from '@fastify-perf/cache'
import { request } from '@fastify-perf/test-helpers'
import Fastify from 'fastify'
import { openStore, redis } from './support/stores.js'

const closes: any[] = []
const { store } = await openStore(redis, (c) => closes.push(c))
const app = Fastify()
await app.register(fastifyPerfCache, { store, l1: { maxSize: '8MB' }, routes: { edge: true } })
app.get('/declared', { config: { cache: { ttl: '1m', vary: ['accept-language'] } } }, async (req) => ({
  lang: req.headers['accept-language'],
}))
const base = await app.listen({ port: 0, host: '127.0.0.1' })
for (let i = 0; i < 8; i++) {
  const r = await request(`${base}/declared`, { headers: { 'accept-language': 'en' } })
  console.log(r.headers['cache-status'])
  await new Promise((r) => setTimeout(r, 20))
}
await app.close()
for (const c of closes.reverse()) await c()
