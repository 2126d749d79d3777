import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StoredEntry } from '@fastify-perf/cache'
import { RedisStore } from '@fastify-perf/cache-redis'
import { redisCommand, redisUrl, testKeyPrefix } from '@fastify-perf/test-helpers'
import { redisKey } from '../src/keys.js'

// Keys are escaped only where UTF-8 would lose them (lone surrogates), plus the escape itself;
// the conformance suite proves distinct keys stay distinct on the server, this file the mapping.

const samples = [
  '',
  'fp:ns:k:user:1',
  'fp:ns:k:žluťoučký 🔑 日本語',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '\uFFFD',
  '\uFDD0',
  '\uFDD0\uFDD0',
  '\uFDD0d800',
  '\uFDD0\uFDD0d800',
  '\uD83D\uDE00',
  '\uDE00\uD83D',
  '\uD83D\uD83D\uDE00',
  '\uD83D\uDE00\uDE00',
  'a\uD800b',
  'a\uFFFDb',
  'a\uDC00b',
  '{\uD800}x',
]

test('well-formed keys without U+FDD0 are sent unchanged (entries written before stay readable)', () => {
  for (const key of ['fp:ns:k:user:1', 'fp:ns:k:žluťoučký 🔑 日本語', '\uFFFD', 'a\uFFFDb', '']) {
    assert.equal(redisKey(key), key)
  }
})

test('lone surrogates and U+FDD0 are escaped into well-formed keys', () => {
  assert.equal(redisKey('\uD800'), '\uFDD0d800')
  assert.equal(redisKey('a\uDC00b'), 'a\uFDD0dc00b')
  assert.equal(redisKey('\uDE00\uD83D'), '\uFDD0de00\uFDD0d83d')
  assert.equal(
    redisKey('\uD83D\uD83D\uDE00'),
    '\uFDD0d83d\uD83D\uDE00',
    'a pair next to a lone half stays a pair',
  )
  assert.equal(redisKey('\uFDD0'), '\uFDD0\uFDD0')
  assert.equal(redisKey('\uFDD0d800'), '\uFDD0\uFDD0d800')
  for (const key of samples) {
    assert.equal(
      Buffer.from(redisKey(key)).toString(),
      redisKey(key),
      `${JSON.stringify(key)} survives UTF-8`,
    )
  }
})

test('distinct keys give distinct Redis keys, also as UTF-8 bytes', () => {
  const bytes = samples.map((key) => Buffer.from(redisKey(key)).toString('hex'))
  assert.equal(new Set(bytes).size, samples.length)
})

test('a key under a prefix is escaped to a key under the escaped prefix', () => {
  for (const prefix of ['fp:ns:', 'fp:\uFDD0:', 'fp:🔑:']) {
    for (const key of samples)
      assert.ok(redisKey(prefix + key).startsWith(redisKey(prefix)), JSON.stringify(key))
  }
})

test('on the server, a lone-surrogate key is stored under its escaped name, and clear() finds it', async (t) => {
  const prefix = testKeyPrefix('keys')
  const url = await redisUrl()
  const store = new RedisStore({ url, prefix })
  t.after(() => store.close())
  await store.ready()
  const now = Date.now()
  const entry: StoredEntry = {
    value: 'v',
    createdAt: now,
    freshUntil: now + 60_000,
    staleUntil: now + 60_000,
    graceUntil: now + 60_000,
    tags: [],
    tagVersions: [],
  }
  await store.set('ns:\uD800', entry, 60_000)
  await store.set('ns:\uFFFD', entry, 60_000)
  assert.equal(await redisCommand(url, 'EXISTS', `${prefix}ns:\uFDD0d800`), 1)
  assert.equal(await redisCommand(url, 'EXISTS', `${prefix}ns:\uFFFD`), 1)
  await store.clear('ns:')
  assert.equal(await redisCommand(url, 'EXISTS', `${prefix}ns:\uFDD0d800`, `${prefix}ns:\uFFFD`), 0)
})
