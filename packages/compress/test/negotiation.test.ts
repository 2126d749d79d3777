// The coding decision the plugin publishes for the route cache (Symbol.for('fastify-perf.contentCoding')
// on each compressed route's options) must be the coding @fastify/compress really puts on the
// route's responses, for every Accept-Encoding a client may send, broken ones included (issue 15).
import assert from 'node:assert/strict'
import type { IncomingHttpHeaders } from 'node:http'
import { type TestContext, test } from 'node:test'
import fastifyPerfCompress, { type FastifyPerfCompressOptions } from '@fastify-perf/compress'
import { acceptEncodingFields, buildApp } from '@fastify-perf/test-helpers'
import type { RouteOptions } from 'fastify'
import { jsonBody } from './fixtures.js'

const kContentCoding = Symbol.for('fastify-perf.contentCoding')
type Chooser = (headers: IncomingHttpHeaders) => string

const BODY = jsonBody(100)

/** An app with the plugin and `/default`, `/own` (its own codings), `/off` (`compress: false`). */
async function appWith(t: TestContext, options: FastifyPerfCompressOptions = {}) {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, options)
  const routes = new Map<string, RouteOptions>()
  // Registered after the plugin: sees the route options once the plugin's hooks ran.
  app.addHook('onRoute', (routeOptions) => {
    if (routeOptions.method === 'GET') routes.set(routeOptions.url!, routeOptions)
  })
  app.get('/default', async (_request, reply) => reply.type('application/json').send(BODY))
  app.get('/own', { compress: { encodings: ['deflate', 'gzip'] } }, async (_request, reply) =>
    reply.type('application/json').send(BODY),
  )
  app.get('/off', { config: { compress: false } }, async (_request, reply) =>
    reply.type('application/json').send(BODY),
  )
  await app.ready()
  const chooser = (url: string) =>
    (routes.get(url) as unknown as Record<symbol, Chooser | undefined>)[kContentCoding]
  return { app, chooser }
}

async function assertOutcomes(
  app: Awaited<ReturnType<typeof appWith>>['app'],
  url: string,
  choose: Chooser,
  fields: readonly string[],
) {
  const seen = new Set<string>()
  for (const field of fields) {
    const headers: IncomingHttpHeaders = { 'accept-encoding': field }
    const res = await app.inject({ url, headers })
    const sent = res.headers['content-encoding'] ?? 'identity'
    assert.equal(choose(headers), sent, `${url} ${JSON.stringify(field)}`)
    seen.add(String(sent))
  }
  return seen
}

test('the published choice is the coding @fastify/compress sends, for 1000 generated fields', async (t) => {
  const { app, chooser } = await appWith(t)
  const fields = acceptEncodingFields(1000, 2015)
  const choose = chooser('/default')!
  assert.equal(typeof choose, 'function')
  const seen = await assertOutcomes(app, '/default', choose, fields)
  for (const coding of ['br', 'gzip', 'deflate', 'identity'])
    assert.ok(seen.has(coding), `${coding} was chosen`)
  // A route's own codings are its own decision.
  const own = chooser('/own')!
  const ownSeen = await assertOutcomes(app, '/own', own, fields.slice(0, 500))
  assert.ok(!ownSeen.has('br'))
  assert.ok(ownSeen.has('deflate') && ownSeen.has('gzip'))
  // A route that is never compressed publishes nothing: the cache keys it by the accepted set.
  assert.equal(chooser('/off'), undefined)
  // x-no-compression and no field at all: identity.
  assert.equal(choose({ 'accept-encoding': 'br', 'x-no-compression': '1' }), 'identity')
  assert.equal(choose({}), 'identity')
  // The issue-15 spellings: the negotiator reads br as accepted, with q=1 or more.
  for (const field of ['gzip, br;q=1;q=0', 'gzip, deflate, br;q=1.0.0', 'gzip, br;q=1x']) {
    assert.equal(choose({ 'accept-encoding': field }), 'br', field)
  }
  // One outcome for many spellings: what lets the cache share one entry between them.
  for (const field of ['br', 'br, gzip', 'gzip, deflate, br, zstd']) {
    assert.equal(choose({ 'accept-encoding': field }), 'br', field)
  }
})

test('with onUnsupportedEncoding, "nothing acceptable" is an outcome of its own', async (t) => {
  const { app, chooser } = await appWith(t, {
    encodings: ['gzip'],
    onUnsupportedEncoding: () => 'no acceptable coding',
  })
  const choose = chooser('/default')!
  assert.equal(choose({ 'accept-encoding': 'br' }), 'none')
  assert.equal(choose({ 'accept-encoding': 'identity' }), 'identity')
  assert.equal(choose({ 'accept-encoding': 'gzip, br' }), 'gzip')
  const refused = await app.inject({ url: '/default', headers: { 'accept-encoding': 'br' } })
  assert.equal(refused.body, 'no acceptable coding')
  const identity = await app.inject({ url: '/default', headers: { 'accept-encoding': 'identity' } })
  assert.equal(identity.body, BODY)
})
