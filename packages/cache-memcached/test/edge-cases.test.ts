import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import type { StoredEntry } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { memcachedCommand, memcachedServers, startMemcached, testKeyPrefix } from '@fastify-perf/test-helpers'

// Issue 4's memcached edge cases, each against a real server: a 300-byte key, a key with
// spaces, a 31-day TTL and a 2 MB value "each behave as documented" (README: Keys, TTLs, Sizes).

function entry(value: string | Uint8Array): StoredEntry {
  const now = Date.now()
  return {
    value,
    createdAt: now,
    freshUntil: now + 60_000,
    staleUntil: now + 60_000,
    graceUntil: now + 60_000,
    tags: [],
    tagVersions: [],
  }
}

// Asked once at file level: without MEMCACHED_SERVERS the private server then lives as long as
// the file, not as long as the first test that asked.
const shared = await memcachedServers()

function storeFor(t: TestContext, servers = shared, extra: object = {}) {
  const prefix = testKeyPrefix('memcached-edge')
  const store = new MemcachedStore({ servers, prefix, ...extra })
  t.after(() => store.close())
  return { store, prefix, servers }
}

/** The key the store documents for a key that must be hashed (no namespace, so no generation). */
function hashedKey(prefix: string, key: string): string {
  return `${prefix}#${createHash('sha256').update(key, 'utf16le').digest('base64url')}`
}

/** Remaining TTL of a key in seconds, via the meta protocol (`mg <key> t` answers `HD t<ttl>`). */
async function remainingTtl(servers: string, key: string): Promise<number> {
  const answer = await memcachedCommand(servers, `mg ${key} t`)
  const match = /^HD t(-?\d+)/.exec(answer)
  assert.ok(match, `unexpected mg answer ${JSON.stringify(answer)} for ${key}`)
  return Number(match[1])
}

test('a 300-byte key round-trips under its hashed name, and the next request still works', async (t) => {
  const { store, prefix, servers } = storeFor(t)
  const long = 'k'.repeat(300)
  await store.set(long, entry('long'), 60_000)
  assert.equal((await store.get(long))?.value, 'long')
  // What memcached holds is the documented hash, not a truncated or rejected key.
  assert.match(await memcachedCommand(servers, `get ${hashedKey(prefix, long)}`), /^VALUE /)
  // memjs with a raw key over 250 bytes swallows the next request on the connection; here the
  // next request (same store, same connection) answers at once.
  const started = performance.now()
  await store.set('after', entry('next'), 60_000)
  assert.equal((await store.get('after'))?.value, 'next')
  assert.ok(performance.now() - started < 100, 'the request after a long key was slow')
  // Multi-byte characters count in bytes: 126 × 'é' is 126 characters but 252 bytes.
  const accented = 'é'.repeat(126)
  await store.set(accented, entry('accented'), 60_000)
  assert.equal((await store.get(accented))?.value, 'accented')
})

test('a key with spaces, newlines or control characters round-trips, hashed', async (t) => {
  const { store, prefix, servers } = storeFor(t)
  for (const key of ['with space', 'new\nline', 'tab\tkey', 'nul\u0000', 'del\u007f', 'ключ']) {
    await store.set(key, entry(key), 60_000)
    assert.equal((await store.get(key))?.value, key, JSON.stringify(key))
    assert.match(await memcachedCommand(servers, `get ${hashedKey(prefix, key)}`), /^VALUE /)
  }
  // A plain key is used as it is (readable in memcached), and one starting with '#' is hashed
  // so it can never pose as the hash of another key.
  await store.set('plain-key', entry('plain'), 60_000)
  assert.match(await memcachedCommand(servers, `get ${prefix}plain-key`), /^VALUE /)
  await store.set('#x', entry('hash-like'), 60_000)
  assert.match(await memcachedCommand(servers, `get ${hashedKey(prefix, '#x')}`), /^VALUE /)
})

test('TTLs are whole seconds rounded up, and over 30 days are sent as absolute Unix time', async (t) => {
  const { store, prefix, servers } = storeFor(t)
  await store.set('short', entry('v'), 1500)
  assert.equal(await remainingTtl(servers, `${prefix}short`), 2)
  await store.set('tiny', entry('v'), 1)
  assert.equal(await remainingTtl(servers, `${prefix}tiny`), 1)
  await store.set('thirty-days', entry('v'), 30 * 86_400_000)
  assert.ok(Math.abs((await remainingTtl(servers, `${prefix}thirty-days`)) - 30 * 86_400) <= 2)

  const day = 86_400_000
  await store.set('month', entry('31 days'), 31 * day)
  // Sent as 2,678,400 relative seconds, memcached would read 1970 and drop it at once.
  assert.equal((await store.get('month'))?.value, '31 days')
  const ttl = await remainingTtl(servers, `${prefix}month`)
  assert.ok(Math.abs(ttl - 31 * 86_400) <= 2, `31-day entry has ${ttl} s left`)
  await store.set('year', entry('1 year'), 365 * day)
  assert.equal((await store.get('year'))?.value, '1 year')
})

test('a 2 MB value is not stored, is counted, replaces nothing, and the next request works', async (t) => {
  const { store } = storeFor(t)
  await store.set('big', entry('small, earlier'), 60_000)
  const twoMb = Buffer.alloc(2 * 1024 * 1024, 7)
  await store.set('big', entry(twoMb), 60_000)
  assert.equal(store.oversized, 1)
  assert.equal(await store.get('big'), undefined, 'the replaced value must not be served')
  await store.set('after-big', entry('ok'), 60_000)
  assert.equal((await store.get('after-big'))?.value, 'ok')
})

test('a value the server refuses as too large (its -I below maxValueSize) is counted, not failed', async (t) => {
  // Default server (-I 1m) while the store believes 4 MB fit: memcached answers "Value too large".
  const { store } = storeFor(t, undefined, { maxValueSize: '4MB' })
  await store.set('big', entry('small, earlier'), 60_000)
  await store.set('big', entry(Buffer.alloc(2 * 1024 * 1024, 1)), 60_000)
  assert.equal(store.oversized, 1)
  assert.equal(await store.get('big'), undefined, 'memcached unlinks the old item on a failed set')
  await store.set('after', entry('ok'), 60_000)
  assert.equal((await store.get('after'))?.value, 'ok')
})

test('with a server started with -I 4m and maxValueSize raised, a 2 MB value is stored', async (t) => {
  const server = await startMemcached({ maxItemSize: '4m', memoryMb: 64 })
  t.after(() => server.stop())
  const { store } = storeFor(t, server.url, { maxValueSize: '4MB' })
  const twoMb = Buffer.alloc(2 * 1024 * 1024)
  for (let i = 0; i < twoMb.length; i++) twoMb[i] = i % 251
  await store.set('big', entry(twoMb), 60_000)
  const got = await store.get('big')
  assert.ok(got?.value instanceof Uint8Array && Buffer.from(got.value).equals(twoMb))
  assert.equal(store.oversized, 0)
})
