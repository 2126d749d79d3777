import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { storeSuite } from '@fastify-perf/cache/testing'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import {
  memcachedCommand,
  memcachedServers,
  type ServiceHandle,
  startMemcached,
  testKeyPrefix,
} from '@fastify-perf/test-helpers'

// The conformance suite of @fastify-perf/cache, against real memcached: the shared server of
// the run (MEMCACHED_SERVERS) or a private one, then two private servers with the keys spread
// over both. Each store gets its own prefix, so nothing here touches another test's keys.
// The large-value case uses 1 MiB − 1 KiB: memcached's default item size is 1 MiB including key
// and header, so a full 1 MiB value is, as documented, not stored (see edge-cases.test.ts).
const largeValueBytes = 1024 * 1024 - 1024

/** `curr_items` of one server, from its `stats` answer. */
async function currItems(servers: string): Promise<number> {
  const stats = await memcachedCommand(servers, 'stats')
  const line = stats.split('\r\n').find((l) => l.startsWith('STAT curr_items '))
  assert.ok(line, `no curr_items in ${stats.slice(0, 80)}`)
  return Number(line.split(' ')[2])
}

describe('conformance on one memcached', async () => {
  const servers = await memcachedServers()
  const prefix = testKeyPrefix('memcached-suite')
  for (const c of storeSuite({
    createStore: () => new MemcachedStore({ servers, prefix }),
    ttlGranularityMs: 1000,
    largeValueBytes,
    lock: true,
    add: true,
  })) {
    test(c.name, c.run)
  }
})

describe('conformance on two memcached servers', () => {
  const handles: ServiceHandle[] = []
  before(async () => {
    handles.push(await startMemcached(), await startMemcached())
  })
  after(async () => {
    await Promise.all(handles.map((h) => h.stop()))
  })
  const servers = () => handles.map((h) => h.url)

  // Cases are built now, but createStore runs inside each case, after `before` started the servers.
  for (const c of storeSuite({
    createStore: () => new MemcachedStore({ servers: servers(), prefix: 'fp-two:' }),
    ttlGranularityMs: 1000,
    largeValueBytes,
    lock: true,
    add: true,
  })) {
    test(c.name, c.run)
  }

  test('keys are spread over both servers', async () => {
    const store = new MemcachedStore({ servers: servers(), prefix: 'spread:' })
    try {
      const before = await Promise.all(handles.map((h) => currItems(h.url)))
      const entry = {
        value: 'v',
        createdAt: 0,
        freshUntil: 0,
        staleUntil: 0,
        graceUntil: 0,
        tags: [],
        tagVersions: [],
      }
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`spread:k${i}`, entry, 60_000)))
      const added = (await Promise.all(handles.map((h) => currItems(h.url)))).map((n, i) => n - before[i]!)
      // 100 entries plus the namespace's one generation record.
      assert.equal(added[0]! + added[1]!, 101)
      // Rendezvous hashing over two servers: each gets about half; 20 is far outside chance.
      for (const [i, n] of added.entries()) assert.ok(n >= 20, `server ${i} got only ${n} of 101 items`)
      const got = await store.getMany(Array.from({ length: 100 }, (_, i) => `spread:k${i}`))
      assert.ok(got.every((e) => e?.value === 'v'))
    } finally {
      await store.close()
    }
  })
})
