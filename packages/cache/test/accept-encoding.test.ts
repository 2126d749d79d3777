// Issue 15, "a gzip-only client receives brotli": the route cache's `Accept-Encoding` variant key
// must read the field as the compressor does. Fed the same fields, valid and broken, the key must
// never group two fields for which the negotiator would choose codings not acceptable to both.
// The negotiator here is @fastify/compress's own (loaded from where it resolves it), fed as
// @fastify/compress feeds it; and then @fastify/compress itself, on real responses.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { type TestContext, test } from 'node:test'
import zlib from 'node:zlib'
import fastifyCompress from '@fastify/compress'
import {
  ACCEPT_ENCODING_TABLE,
  acceptEncodingFields,
  buildApp,
  listen,
  request,
} from '@fastify-perf/test-helpers'
import { fastifyPerfCache, type RouteCacheConfig } from '../src/index.js'
import {
  ACCEPTED_SET,
  AcceptEncodingKey,
  kContentCoding,
  normalizeAcceptEncoding,
} from '../src/route/accept-encoding.js'
import { varySuffix } from '../src/route/vary.js'

const requireHere = createRequire(import.meta.url)
const { negotiate } = createRequire(requireHere.resolve('@fastify/compress'))(
  '@fastify/accept-negotiator',
) as {
  negotiate: (header: string, supported: string[]) => string | null
}

/** @fastify/compress's `getEncodingHeader`: how it hands the field to the negotiator. */
function compressNegotiates(field: string, offered: string[]): string | null {
  return negotiate(field.toLowerCase().replace(/\*|x-gzip/gu, 'gzip'), offered)
}

/** Server offers the agreement is checked under (orders matter to the negotiator). */
const OFFERS: readonly string[][] = [
  ['zstd', 'br', 'gzip', 'deflate', 'identity'], // @fastify/compress's default (with zstd)
  ['br', 'gzip', 'deflate', 'identity'],
  ['br', 'zstd', 'gzip', 'deflate', 'identity'], // @fastify-perf/compress's default
  ['gzip', 'br'],
  ['gzip', 'identity'],
  ['deflate', 'gzip'],
  ['identity'],
  ['br'],
]

/**
 * Groups `fields` by the key and checks agreement under every offer: within a group, the coding
 * the negotiator chooses for any field is one it accepts for every other field (asked with that
 * coding alone), and "nothing acceptable" is the answer for all of the group or for none.
 */
function assertAgreement(fields: readonly string[]): number {
  const groups = new Map<string, string[]>()
  for (const field of fields) {
    const key = normalizeAcceptEncoding(field)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [field])
    else group.push(field)
  }
  for (const [key, group] of groups) {
    for (const offer of OFFERS) {
      const choices = new Map<string | null, string>()
      for (const field of group) {
        const chosen = compressNegotiates(field, offer)
        if (!choices.has(chosen)) choices.set(chosen, field)
      }
      for (const [chosen, chosenFor] of choices) {
        for (const other of group) {
          const otherChoice = compressNegotiates(other, offer)
          if (chosen === null) {
            assert.equal(
              otherChoice,
              null,
              `key ${JSON.stringify(key)} groups ${JSON.stringify(chosenFor)} (nothing acceptable of ${offer}) with ${JSON.stringify(other)} (${otherChoice})`,
            )
          } else {
            assert.equal(
              compressNegotiates(other, [chosen]),
              chosen,
              `key ${JSON.stringify(key)} groups ${JSON.stringify(chosenFor)} (gets ${chosen} of ${offer}) with ${JSON.stringify(other)}, which does not accept ${chosen}`,
            )
          }
        }
      }
    }
  }
  return groups.size
}

test('the key reads the issue-15 spellings as the negotiator does: br is accepted, not refused', () => {
  for (const field of ['gzip, br;q=1;q=0', 'gzip, deflate, br;q=1.0.0', 'gzip, br;q=1x']) {
    assert.equal(compressNegotiates(field, ['zstd', 'br', 'gzip', 'deflate', 'identity']), 'br', field)
    assert.ok(normalizeAcceptEncoding(field).split(',').includes('br'), field)
    assert.notEqual(normalizeAcceptEncoding(field), normalizeAcceptEncoding('gzip'), field)
  }
  // Members the negotiator refuses, though an RFC reading might not.
  assert.equal(normalizeAcceptEncoding('br;q=-1, gzip'), 'gzip')
  assert.equal(normalizeAcceptEncoding('br;level=1, gzip'), 'gzip')
  assert.equal(normalizeAcceptEncoding('br;q=, gzip'), 'gzip')
  // A weight of 0 does not refuse a coding listed again with a weight.
  assert.equal(normalizeAcceptEncoding('gzip;q=0, gzip'), 'gzip')
})

test(`the key agrees with @fastify/accept-negotiator on ${ACCEPT_ENCODING_TABLE.length} hand-picked and 3000 generated fields`, () => {
  const fields = acceptEncodingFields(3000)
  assert.ok(fields.length >= 3000)
  const groups = assertAgreement(fields)
  // Hundreds of spellings, few variants: at most one per subset of the five codings.
  assert.ok(groups <= 32, `${groups} variants`)
})

test('the key agrees with @fastify/compress on real responses, for 1000 generated fields', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyCompress)
  const body = JSON.stringify({
    items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
  })
  app.get('/', async (_request, reply) => reply.type('application/json').send(body))
  await app.ready()
  let compressed = 0
  for (const field of acceptEncodingFields(1000, 1015)) {
    const res = await app.inject({ url: '/', headers: { 'accept-encoding': field } })
    const coding = res.headers['content-encoding']
    // What @fastify/compress sent is accepted by every field that shares this field's variant.
    assert.ok(
      ACCEPTED_SET.admits(normalizeAcceptEncoding(field), coding),
      `${JSON.stringify(field)} got ${String(coding)}, key ${normalizeAcceptEncoding(field)}`,
    )
    if (coding !== undefined) compressed++
  }
  assert.ok(compressed > 300, `${compressed} compressed responses: the fields exercise the negotiation`)
})

test('a route whose compressor publishes its choice is keyed by the outcome', () => {
  const routeOptions: Record<symbol, unknown> = {}
  const key = new AcceptEncodingKey(routeOptions)
  // Published after the key was made (registration order), read on first use.
  routeOptions[kContentCoding] = (headers: Record<string, unknown>) =>
    String(headers['accept-encoding'] ?? '').includes('br') ? 'br' : 'identity'
  const suffix = (field?: string) =>
    varySuffix(['accept-encoding'], field === undefined ? {} : { 'accept-encoding': field }, 256, key)
  assert.equal(suffix('br'), suffix('br, gzip'))
  assert.equal(suffix('br'), suffix('gzip, deflate, br, zstd'))
  assert.notEqual(suffix('br'), suffix('gzip'))
  assert.equal(suffix(), suffix('gzip'), 'no field and no acceptable coding: both identity')
  assert.equal(key.value('br', { 'accept-encoding': 'br' }), '=br')
  assert.ok(key.admits('=br', 'br'))
  assert.ok(key.admits('=br', undefined))
  assert.ok(key.admits('=br', 'identity'))
  assert.ok(!key.admits('=br', 'gzip'))
  assert.ok(!key.admits('=identity', 'br'))
  // Without a publisher: the accepted set, `undefined` for an absent field.
  const plain = new AcceptEncodingKey({})
  assert.equal(plain.value('gzip, br', {}), 'br,gzip')
  assert.equal(plain.value(undefined, {}), undefined)
  assert.ok(plain.admits('br,gzip', 'gzip'))
  assert.ok(plain.admits('gzip', 'x-gzip'))
  assert.ok(!plain.admits('gzip', 'br'))
  assert.ok(!plain.admits(undefined, 'gzip'))
  assert.ok(!plain.admits('br,gzip', 'gzip, zstd'), 'stacked codings must all be accepted')
})

const LABEL = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, label: `row ${i}` })) })

function decode(body: Buffer, coding: string | string[] | undefined): string {
  switch (coding) {
    case undefined:
    case 'identity':
      return body.toString()
    case 'gzip':
      return zlib.gunzipSync(body).toString()
    default:
      throw new Error(`a gzip-only client cannot decode ${String(coding)}`)
  }
}

async function plainCompressApp(t: TestContext, vary: boolean) {
  const app = buildApp(t)
  await app.register(fastifyPerfCache)
  await app.register(fastifyCompress)
  let calls = 0
  const cache: RouteCacheConfig = vary ? { ttl: '1m', vary: ['accept-encoding'] } : { ttl: '1m' }
  app.get('/list', { config: { cache } }, async (_request, reply) => {
    calls++
    return reply.type('application/json').send(LABEL)
  })
  return { base: await listen(app), calls: () => calls }
}

for (const vary of [false, true]) {
  for (const poison of ['gzip, br;q=1;q=0', 'gzip, deflate, br;q=1.0.0', 'gzip, br;q=1x']) {
    test(`plain @fastify/compress${vary ? ", vary: ['accept-encoding']" : ''}: after ${JSON.stringify(poison)}, a gzip-only client gets a body it can decode`, async (t) => {
      const { base } = await plainCompressApp(t, vary)
      const first = await request(`${base}/list`, { headers: { 'accept-encoding': poison } })
      assert.equal(first.headers['content-encoding'], 'br', 'the negotiator chose br for the first field')
      assert.match(String(first.headers['cache-status']), /stored/)
      for (let i = 0; i < 2; i++) {
        const res = await request(`${base}/list`, { headers: { 'accept-encoding': 'gzip' } })
        assert.equal(decode(res.body, res.headers['content-encoding']), LABEL)
      }
    })
  }
}

test('plain @fastify/compress: br and br, gzip share the accepted-set variant only when they accept the same codings', async (t) => {
  const { base, calls } = await plainCompressApp(t, false)
  await request(`${base}/list`, { headers: { 'accept-encoding': 'gzip, br' } })
  const same = await request(`${base}/list`, { headers: { 'accept-encoding': 'br;q=0.5, GZIP' } })
  assert.match(String(same.headers['cache-status']), /hit/)
  const other = await request(`${base}/list`, { headers: { 'accept-encoding': 'br' } })
  assert.match(String(other.headers['cache-status']), /miss/)
  assert.equal(calls(), 2)
})
