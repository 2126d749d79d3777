// Cooperation with @fastify-perf/cache's route cache: the compressed bytes are what it stores and
// serves, per negotiated coding; a hit never compresses; whatever the registration order.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import fastifyPerfCache from '@fastify-perf/cache'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, type HttpResponse, listen, request } from '@fastify-perf/test-helpers'
import { captureEvents, decode, HAS_ZSTD, jsonBody } from './fixtures.js'

const BODY = jsonBody(400)
type Order = 'compress first' | 'cache first'

async function start(t: TestContext, order: Order) {
  const app = buildApp(t)
  if (order === 'compress first') await app.register(fastifyPerfCompress)
  await app.register(fastifyPerfCache)
  if (order === 'cache first') await app.register(fastifyPerfCompress)
  const calls = { list: 0, tagged: 0 }
  // No `vary` declared: the compress plugin's Vary on identity responses is what keeps an identity
  // body stored first from being served to clients that accept br.
  app.get('/list', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
    calls.list++
    reply.type('application/json')
    return BODY
  })
  app.get('/tagged', { config: { cache: { ttl: '1m' } } }, async (_request, reply) => {
    calls.tagged++
    reply.header('etag', '"v1"').type('application/json')
    return BODY
  })
  return { base: await listen(app), calls }
}

const CODINGS: Array<string | undefined> = [undefined, 'br', 'gzip', 'deflate', ...(HAS_ZSTD ? ['zstd'] : [])]

/** Misses then hits for every coding; returns what the client received on the hits. */
async function exercise(t: TestContext, order: Order) {
  const events = captureEvents(t)
  const { base, calls } = await start(t, order)
  const hits = new Map<string, HttpResponse>()
  for (const coding of CODINGS) {
    const headers: Record<string, string> = coding === undefined ? {} : { 'accept-encoding': coding }
    const encodedBefore = events.encoded.length
    const miss = await request(`${base}/list`, { headers })
    assert.match(
      String(miss.headers['cache-status']),
      /fwd=(uri|vary)-miss; stored/,
      `${order} ${coding} miss`,
    )
    assert.equal(miss.headers['content-encoding'], coding, `${order} ${coding}`)
    assert.equal(decode(miss.body, coding).toString(), BODY)
    assert.equal(
      events.encoded.length - encodedBefore,
      coding === undefined ? 0 : 1,
      'the miss compressed once',
    )

    const hit = await request(`${base}/list`, { headers })
    assert.match(String(hit.headers['cache-status']), /; hit/, `${order} ${coding} hit`)
    assert.equal(hit.headers['content-encoding'], coding)
    assert.deepEqual(hit.body, miss.body, 'the stored bytes are the compressed ones')
    assert.equal(hit.headers['content-length'], String(hit.body.length))
    assert.match(String(hit.headers.vary), /accept-encoding/i)
    assert.equal(
      events.encoded.length - encodedBefore,
      coding === undefined ? 0 : 1,
      'a hit never compresses',
    )
    hits.set(String(coding), hit)
  }
  assert.equal(calls.list, CODINGS.length, 'one handler call per coding, then hits only')
  // The skip reason of every hit that carried a coding: already encoded.
  const onHits = events.skipped.filter((e) => e.reason === 'already-encoded').length
  assert.equal(onHits, CODINGS.length - 1)
  return hits
}

test('registration order does not change the bytes served, for any coding', async (t) => {
  const compressFirst = await exercise(t, 'compress first')
  const cacheFirst = await exercise(t, 'cache first')
  for (const coding of CODINGS) {
    const a = compressFirst.get(String(coding))!
    const b = cacheFirst.get(String(coding))!
    assert.deepEqual(a.body, b.body, `${coding}: identical bytes`)
    assert.equal(a.headers['content-encoding'], b.headers['content-encoding'])
    assert.equal(a.headers.etag, b.headers.etag, `${coding}: the same validator`)
    assert.equal(String(a.headers.vary).toLowerCase(), String(b.headers.vary).toLowerCase())
  }
})

for (const order of ['compress first', 'cache first'] as const) {
  test(`${order}: conditional requests on cached compressed entries get 304s with the right tag`, async (t) => {
    const { base, calls } = await start(t, order)
    const br = { 'accept-encoding': 'br' }
    const miss = await request(`${base}/tagged`, { headers: br })
    assert.equal(miss.headers.etag, 'W/"v1"', 'weakened before the cache stored it')
    const revalidated = await request(`${base}/tagged`, { headers: { ...br, 'if-none-match': 'W/"v1"' } })
    assert.equal(revalidated.status, 304)
    assert.match(String(revalidated.headers['cache-status']), /hit/)
    assert.equal(revalidated.headers.etag, 'W/"v1"')
    // The identity variant keeps the strong tag: a strong-tag revalidation pairs with identity bytes.
    const identity = await request(`${base}/tagged`)
    assert.equal(identity.headers.etag, '"v1"')
    assert.equal(identity.text, BODY)
    const identity304 = await request(`${base}/tagged`, { headers: { 'if-none-match': '"v1"' } })
    assert.equal(identity304.status, 304)
    assert.equal(identity304.headers.etag, '"v1"')
    assert.equal(calls.tagged, 2, 'br miss and identity miss; every other answer came from the cache')

    // Without a handler ETag the cache computes a strong one from the stored (compressed) bytes,
    // sent on hits: one per coding.
    const gzip = { 'accept-encoding': 'gzip' }
    await request(`${base}/list`, { headers: br })
    await request(`${base}/list`, { headers: gzip })
    const brList = await request(`${base}/list`, { headers: br })
    const gzipList = await request(`${base}/list`, { headers: gzip })
    assert.match(String(brList.headers.etag), /^"/)
    assert.notEqual(brList.headers.etag, gzipList.headers.etag)
    const again = await request(`${base}/list`, {
      headers: { ...br, 'if-none-match': String(brList.headers.etag) },
    })
    assert.equal(again.status, 304)
  })
}

test('HEAD is answered from the GET entry with the compressed length', async (t) => {
  const { base } = await start(t, 'cache first')
  const br = { 'accept-encoding': 'br' }
  const get = await request(`${base}/list`, { headers: br })
  const head = await request(`${base}/list`, { method: 'HEAD', headers: br })
  assert.equal(head.headers['content-encoding'], 'br')
  assert.equal(head.headers['content-length'], String(get.body.length))
})
