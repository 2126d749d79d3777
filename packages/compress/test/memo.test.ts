// The memo of compressed outputs: identical bodies are compressed once, by content not by URL,
// per coding and settings, within a byte bound.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfCompress, { type FastifyPerfCompressOptions } from '@fastify-perf/compress'
import { buildApp, listen, request } from '@fastify-perf/test-helpers'
import { CompressionMemo, MemoSampler } from '../src/memo.js'
import { captureEvents, decode, jsonBody } from './fixtures.js'

async function start(t: Parameters<typeof buildApp>[0], options: FastifyPerfCompressOptions = {}) {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, options)
  // An uncached route whose body is rebuilt on every request (a new string each time).
  app.get('/same', async () => jsonBody(300, 1))
  app.get('/also-same', async () => jsonBody(300, 1))
  app.get('/seed/:seed', async (req) => jsonBody(300, Number((req.params as { seed: string }).seed)))
  app.get('/fresh', async () => jsonBody(300, 4242))
  return listen(app)
}

test('the same body twice is compressed once, and the bytes are identical', async (t) => {
  const events = captureEvents(t)
  const base = await start(t)
  const headers = { 'accept-encoding': 'br' }
  const first = await request(`${base}/same`, { headers })
  const second = await request(`${base}/same`, { headers })
  assert.deepEqual(second.body, first.body)
  assert.equal(decode(second.body, 'br').toString(), jsonBody(300, 1))
  assert.deepEqual(
    events.encoded.map((e) => e.memo),
    [false, true],
  )
  // Keyed by content, never by URL: another URL with the same body hits too.
  await request(`${base}/also-same`, { headers })
  assert.equal(events.encoded.at(-1)!.memo, true)
  // And one URL with a new body is compressed again.
  await request(`${base}/seed/2`, { headers })
  await request(`${base}/seed/3`, { headers })
  assert.deepEqual(
    events.encoded.slice(3).map((e) => e.memo),
    [false, false],
  )
  // Every event names its request, for @fastify-perf/timing.
  for (const event of events.encoded) assert.ok(event.request !== undefined && event.reply !== undefined)
})

test('codings do not share entries: br, gzip and deflate bodies are each compressed once', async (t) => {
  const events = captureEvents(t)
  const base = await start(t)
  for (const encoding of ['br', 'gzip', 'deflate', 'br', 'gzip', 'deflate']) {
    const res = await request(`${base}/same`, { headers: { 'accept-encoding': encoding } })
    assert.equal(res.headers['content-encoding'], encoding)
    assert.equal(decode(res.body, encoding).toString(), jsonBody(300, 1))
  }
  assert.deepEqual(
    events.encoded.map((e) => `${e.encoding}:${e.memo}`),
    ['br:false', 'gzip:false', 'deflate:false', 'br:true', 'gzip:true', 'deflate:true'],
  )
})

test('bounded in bytes: the least recently used outputs are evicted and compressed again', async (t) => {
  const events = captureEvents(t)
  const size = (
    await request(`${await start(t, { memo: false })}/seed/1`, { headers: { 'accept-encoding': 'br' } })
  ).body.length
  events.encoded.length = 0
  // Room for about two outputs.
  const base = await start(t, { memo: { maxSize: size * 2 + 400 } })
  const headers = { 'accept-encoding': 'br' }
  for (const seed of [1, 2, 1, 3, 1, 2]) await request(`${base}/seed/${seed}`, { headers })
  assert.deepEqual(
    events.encoded.map((e) => e.memo),
    // 1 miss, 2 miss, 1 hit, 3 miss (evicts 2, the least recently used), 1 hit, 2 miss again
    [false, false, true, false, true, false],
  )
})

test('memo: false compresses every response; outputs over maxEntrySize are never kept', async (t) => {
  const events = captureEvents(t)
  const headers = { 'accept-encoding': 'gzip' }
  const off = await start(t, { memo: false })
  await request(`${off}/same`, { headers })
  await request(`${off}/same`, { headers })
  const tiny = await start(t, { memo: { maxSize: '1MB', maxEntrySize: 100 } })
  await request(`${tiny}/same`, { headers })
  await request(`${tiny}/same`, { headers })
  assert.deepEqual(
    events.encoded.map((e) => e.memo),
    [false, false, false, false],
  )
})

test('CompressionMemo: hashes content with the settings id, counts hits and misses', () => {
  const memo = new CompressionMemo(10_000, 5_000)
  let calls = 0
  const compress = (body: Buffer) => {
    calls++
    return Buffer.from(`c:${body.toString()}`)
  }
  assert.equal(memo.compress('br0', Buffer.from('abc'), compress).toString(), 'c:abc')
  assert.equal(memo.lastWasHit, false)
  assert.equal(memo.compress('br0', Buffer.from('abc'), compress).toString(), 'c:abc')
  assert.equal(memo.lastWasHit, true)
  memo.compress('br1', Buffer.from('abc'), compress)
  assert.equal(memo.lastWasHit, false, 'other settings, other entry')
  assert.equal(calls, 2)
  const stats = memo.stats()
  assert.equal(stats.hits, 1)
  assert.equal(stats.misses, 2)
  assert.equal(stats.entries, 2)
  assert.ok(stats.bytes > 0 && stats.bytes <= 10_000)
  memo.clear()
  assert.equal(memo.stats().entries, 0)
})

test('a route whose bodies never repeat stops hashing them, and notices when they start repeating', async (t) => {
  const events = captureEvents(t)
  const base = await start(t)
  const headers = { 'accept-encoding': 'gzip' }
  // 64 lookups without a hit: the route goes cold.
  for (let seed = 1; seed <= 64; seed++) await request(`${base}/seed/${seed}`, { headers })
  assert.ok(events.encoded.every((e) => !e.memo))
  events.encoded.length = 0
  // Body 1 is in the memo, but a cold route only looks up one response in 16.
  for (let i = 0; i < 20; i++) await request(`${base}/seed/1`, { headers })
  const memo = events.encoded.map((e) => e.memo)
  const firstHit = memo.indexOf(true)
  assert.ok(firstHit > 0 && firstHit < 16, `first hit at ${firstHit}: ${memo.join(',')}`)
  assert.ok(memo.slice(firstHit).every(Boolean), 'warm again after the first hit')
  // Another route is not affected: its first repeat hits at once.
  events.encoded.length = 0
  await request(`${base}/fresh`, { headers })
  await request(`${base}/fresh`, { headers })
  assert.deepEqual(
    events.encoded.map((e) => e.memo),
    [false, true],
  )
})

test('MemoSampler: warm until a window without hits, then one lookup in 16 until a hit', () => {
  const sampler = new MemoSampler()
  for (let i = 0; i < 63; i++) {
    assert.equal(sampler.shouldLookUp(), true)
    sampler.record(false)
  }
  assert.equal(sampler.cold, false)
  sampler.shouldLookUp()
  sampler.record(false)
  assert.equal(sampler.cold, true)
  const decisions = Array.from({ length: 32 }, () => sampler.shouldLookUp())
  assert.equal(decisions.filter(Boolean).length, 2)
  sampler.record(true)
  assert.equal(sampler.cold, false)
  // A hit inside the window keeps it warm.
  for (let i = 0; i < 200; i++) sampler.record(i % 50 === 0)
  assert.equal(sampler.cold, false)
})
