// Vary merging and ETag weakening, as units and over a real socket, with a correct 304 afterwards.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfCompress from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import type { FastifyInstance } from 'fastify'
import { isStrongEtag, listsWeakForm, weakenEtag } from '../src/etag.js'
import { mergeVary } from '../src/vary.js'
import { decode, jsonBody } from './fixtures.js'

const BODY = jsonBody()
const BR = { 'accept-encoding': 'br' }

test('mergeVary: case-insensitive, no duplicates, first spelling kept, * left alone', () => {
  const cases: Array<[unknown, string]> = [
    [undefined, 'accept-encoding'],
    ['', 'accept-encoding'],
    ['Accept-Language', 'Accept-Language, accept-encoding'],
    ['accept-encoding', 'accept-encoding'],
    ['ACCEPT-ENCODING, Origin', 'ACCEPT-ENCODING, Origin'],
    ['Origin, accept-language, Accept-Language', 'Origin, accept-language, accept-encoding'],
    ['Accept-Encoding, accept-encoding', 'Accept-Encoding'],
    [' Origin ,, Cookie ', 'Origin, Cookie, accept-encoding'],
    ['*', '*'],
    ['Origin, *', '*'],
    ['*, accept-encoding', '*'],
    [['Origin', 'Accept-Encoding'], 'Origin, Accept-Encoding'],
  ]
  for (const [input, expected] of cases) assert.equal(mergeVary(input), expected, JSON.stringify(input))
})

test('weakenEtag and listsWeakForm follow RFC 9110 §8.8.3', () => {
  assert.equal(weakenEtag('"abc"'), 'W/"abc"')
  assert.equal(weakenEtag('W/"abc"'), 'W/"abc"')
  assert.equal(weakenEtag('abc'), 'W/"abc"', 'an unquoted value is quoted first')
  assert.equal(isStrongEtag('"abc"'), true)
  assert.equal(isStrongEtag('W/"abc"'), false)
  assert.equal(listsWeakForm('W/"abc"', '"abc"'), true)
  assert.equal(listsWeakForm('"abc"', '"abc"'), false, "the strong form is the application's to answer")
  assert.equal(listsWeakForm('W/"x", W/"abc"', '"abc"'), true)
  assert.equal(listsWeakForm('W/"a,b", W/"c"', '"a,b"'), true, 'commas are allowed inside an opaque tag')
  assert.equal(listsWeakForm('W/"a,b", W/"c"', '"b"'), false)
  assert.equal(listsWeakForm('W/"abcd"', '"abc"'), false)
  assert.equal(listsWeakForm('*', '"abc"'), false)
  assert.equal(listsWeakForm('garbage, W/"abc"', '"abc"'), true)
  assert.equal(listsWeakForm('W/"abc', '"abc"'), false, 'an unterminated tag matches nothing')
})

async function app(
  t: Parameters<typeof buildApp>[0],
  routes: (app: FastifyInstance) => void,
): Promise<string> {
  const instance = buildApp(t)
  await instance.register(fastifyPerfCompress)
  routes(instance)
  return listen(instance)
}

test("Vary over the wire: merged with the route's own, never duplicated, * kept", async (t) => {
  const varies: Record<string, string | string[] | undefined> = {
    none: undefined,
    lang: 'Accept-Language',
    same: 'Accept-Encoding',
    lower: 'accept-encoding',
    star: '*',
    list: ['Origin', 'Accept-Language'],
  }
  const base = await app(t, (instance) =>
    instance.get('/:name', (req, reply) => {
      const vary = varies[(req.params as { name: string }).name]
      if (vary !== undefined) reply.header('vary', vary)
      reply.type('application/json').send(BODY)
    }),
  )
  const expected: Record<string, string> = {
    none: 'accept-encoding',
    lang: 'Accept-Language, accept-encoding',
    same: 'Accept-Encoding',
    lower: 'accept-encoding',
    star: '*',
    list: 'Origin, Accept-Language, accept-encoding',
  }
  for (const name of Object.keys(varies)) {
    const res = await request(`${base}/${name}`, { headers: BR })
    assert.equal(res.headers['content-encoding'], 'br', name)
    assert.equal(String(res.headers.vary).toLowerCase(), expected[name]!.toLowerCase(), name)
  }
})

test('an identity response that could have been compressed still says Vary: Accept-Encoding', async (t) => {
  const base = await app(t, (instance) => {
    instance.get('/', async () => BODY)
    instance.get('/image', (_request, reply) => {
      reply.type('image/png').send(Buffer.alloc(4096))
    })
    instance.get('/small', async () => ({ ok: true }))
  })
  // No Accept-Encoding: a cache storing this must not serve it to a client that accepts br.
  const plain = await request(`${base}/`)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.equal(plain.headers.vary, 'accept-encoding')
  // Only codings we do not offer.
  const other = await request(`${base}/`, { headers: { 'accept-encoding': 'compress' } })
  assert.equal(other.headers['content-encoding'], undefined)
  assert.equal(other.headers.vary, 'accept-encoding')
  // Responses that never vary get no Vary.
  assert.equal((await request(`${base}/image`, { headers: BR })).headers.vary, undefined)
  assert.equal((await request(`${base}/small`, { headers: BR })).headers.vary, undefined)
})

test('a strong ETag is weakened on compressed responses only, and a 304 follows for the weak tag', async (t) => {
  let handlerCalls = 0
  const base = await app(t, (instance) =>
    instance.get('/', (_request, reply) => {
      handlerCalls++
      reply.header('etag', '"v1"').header('last-modified', 'Sun, 01 Nov 2026 00:00:00 GMT')
      reply.type('application/json').send(BODY)
    }),
  )
  const compressed = await request(`${base}/`, { headers: BR })
  assert.equal(compressed.headers.etag, 'W/"v1"')
  const identity = await request(`${base}/`)
  assert.equal(identity.headers.etag, '"v1"', 'the identity bytes are the ones the strong tag names')

  // The client revalidates the compressed copy it holds.
  const revalidated = await request(`${base}/`, { headers: { ...BR, 'if-none-match': 'W/"v1"' } })
  assert.equal(revalidated.status, 304)
  assert.equal(revalidated.body.length, 0)
  assert.equal(revalidated.headers.etag, 'W/"v1"')
  assert.equal(revalidated.headers.vary, 'accept-encoding')
  assert.equal(revalidated.headers['content-type'], undefined)
  assert.equal(revalidated.headers['content-length'], undefined)
  assert.equal(revalidated.headers['content-encoding'], undefined)
  assert.equal(revalidated.headers['last-modified'], undefined)

  // A tag that changed: full response again.
  const changed = await request(`${base}/`, { headers: { ...BR, 'if-none-match': 'W/"v0"' } })
  assert.equal(changed.status, 200)
  assert.equal(decode(changed.body, 'br').toString(), BODY)
  assert.equal(handlerCalls, 4)
})

test('with an ETag plugin that compares If-None-Match as an exact string (as @fastify/etag does)', async (t) => {
  const instance = buildApp(t)
  // An app-level onSend ETag hook, registered like @fastify/etag: strong tag from the identity
  // bytes, 304 only when If-None-Match equals it exactly. App-level hooks run before the route's
  // compression hook, so it never sees the weakened tag.
  instance.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string') return payload
    const etag = `"${Buffer.byteLength(payload).toString(36)}-${payload.length % 97}"`
    reply.header('etag', etag)
    if (req.headers['if-none-match'] === etag) {
      reply.code(304)
      return ''
    }
    return payload
  })
  await instance.register(fastifyPerfCompress)
  instance.get('/', async () => BODY)
  const base = await listen(instance)

  const first = await request(`${base}/`, { headers: BR })
  const weak = String(first.headers.etag)
  assert.match(weak, /^W\/"/)
  const again = await request(`${base}/`, { headers: { ...BR, 'if-none-match': weak } })
  assert.equal(again.status, 304, 'the weakened tag still revalidates')
  assert.equal(again.headers.etag, weak)
  // An identity client revalidating with the strong tag is answered by the ETag hook itself.
  const strong = weak.slice(2)
  const identity = await request(`${base}/`, { headers: { 'if-none-match': strong } })
  assert.equal(identity.status, 304)
  assert.equal(identity.headers.etag, strong)
})

test('If-None-Match on a POST, or on a non-200 response, is left to the application', async (t) => {
  const base = await app(t, (instance) => {
    instance.post('/', (_request, reply) => {
      reply.header('etag', '"p"').type('application/json').send(BODY)
    })
    instance.get('/created', (_request, reply) => {
      reply.code(201).header('etag', '"c"').type('application/json').send(BODY)
    })
  })
  const post = await request(`${base}/`, { method: 'POST', headers: { ...BR, 'if-none-match': 'W/"p"' } })
  assert.equal(post.status, 200)
  assert.equal(post.headers.etag, 'W/"p"')
  const created = await request(`${base}/created`, { headers: { ...BR, 'if-none-match': 'W/"c"' } })
  assert.equal(created.status, 201)
})
