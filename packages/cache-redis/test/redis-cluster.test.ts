import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BusMessage, StoredEntry } from '@fastify-perf/cache'
import { storeSuite } from '@fastify-perf/cache/testing'
import { RedisBus, type RedisClient, RedisStore } from '@fastify-perf/cache-redis'
import { type RedisClusterHandle, redisCommand, startRedisCluster } from '@fastify-perf/test-helpers'
import calculateSlot from 'cluster-key-slot'
import { Cluster } from 'ioredis'
import { Cluster as Cluster5 } from 'ioredis5'

// One real 3-master Redis Cluster for the whole file.
let cluster: RedisClusterHandle
before(async () => {
  cluster = await startRedisCluster({ masters: 3 })
})
after(() => cluster?.stop())

function entry(value: string): StoredEntry {
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

async function clusterStore(prefix = 'fp:'): Promise<RedisStore> {
  const store = new RedisStore({ cluster: { nodes: [...cluster.nodes] }, prefix })
  await store.ready()
  return store
}

for (const c of storeSuite({ createStore: () => clusterStore(), lock: true, add: true }))
  test(`conformance (cluster): ${c.name}`, c.run)

// A user's own Cluster, of either ioredis major (issue 17): ioredis 6 on its default RESP3, and
// ioredis 5. One client each for the suite, as an app holds one; never closed by the stores.
const USER_CLUSTERS = [
  { name: 'ioredis 6 Cluster, RESP3', connect: () => new Cluster([...cluster.nodes]) },
  { name: 'ioredis 5 Cluster', connect: () => new Cluster5([...cluster.nodes]) },
]
for (const user of USER_CLUSTERS) {
  let shared: Promise<RedisClient> | undefined
  const client = () => {
    shared ??= (async () => {
      const own = user.connect()
      if (own.status !== 'ready') await once(own, 'ready')
      return own
    })()
    return shared
  }
  after(async () => (await shared)?.disconnect())
  for (const c of storeSuite({
    createStore: async () => new RedisStore({ client: await client(), prefix: `user-${randomUUID()}:` }),
    lock: true,
    add: true,
  }))
    test(`conformance (${user.name}): ${c.name}`, c.run)

  test(`${user.name}: getMany, deleteMany and clear across every master`, async (t) => {
    const store = new RedisStore({ client: await client(), prefix: `user-many-${randomUUID()}:` })
    t.after(() => store.close())
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`)
    await Promise.all(keys.map((key) => store.set(key, entry(key), 60_000)))
    assert.deepEqual(
      (await store.getMany(keys)).map((e) => e?.value),
      keys,
    )
    assert.equal(await store.deleteMany(keys.slice(0, 100)), 100)
    await store.clear('')
    assert.equal((await store.getMany(keys)).filter(Boolean).length, 0, 'clear() reached every master')
  })

  test(`${user.name}: the bus on it exchanges messages`, async (t) => {
    const own = await client()
    const bus = new RedisBus({ client: own })
    t.after(() => bus.close())
    const received: BusMessage[] = []
    const channel = `user-bus-${randomUUID()}`
    await bus.subscribe(
      channel,
      (message) => received.push(message),
      () => {},
    )
    assert.equal(bus.up, true)
    bus.publish(channel, { origin: 'x', keys: ['k'] })
    const started = performance.now()
    while (received.length === 0 && performance.now() - started < 2000) await sleep(5)
    assert.deepEqual(received, [{ origin: 'x', keys: ['k'] }])
  })
}

test('getMany, deleteMany and clear span every slot and every master without CROSSSLOT', async (t) => {
  const store = await clusterStore('many:')
  t.after(() => store.close())
  const keys = Array.from({ length: 500 }, (_, i) => `key-${i}`)
  const slots = new Set(keys.map((k) => calculateSlot(`many:${k}`)))
  assert.ok(slots.size > 400, 'the keys really are spread over many slots')
  await Promise.all(keys.map((k, i) => store.set(k, entry(`v${i}`), 60_000)))
  const perNode = await Promise.all(
    cluster.services.map(async (s) => (await redisCommand(s.url, 'KEYS', 'many:*')) as string[]),
  ).then((lists) => lists.map((l) => l.length))
  assert.ok(
    perNode.every((n) => n > 100),
    `every master holds some of the keys: ${perNode.join(', ')}`,
  )

  // Order is kept across slots, holes included, duplicates answered twice.
  const asked = ['missing-1', ...keys, 'missing-2', 'key-7']
  const got = await store.getMany(asked)
  assert.equal(got.length, asked.length)
  assert.equal(got[0], undefined)
  for (let i = 0; i < keys.length; i++) assert.equal(got[i + 1]?.value, `v${i}`, `position of key-${i}`)
  assert.equal(got[keys.length + 1], undefined)
  assert.equal(got[keys.length + 2]?.value, 'v7')

  assert.equal(await store.deleteMany([...keys.slice(0, 100), 'never-1', 'never-2']), 100)
  assert.equal((await store.getMany(keys.slice(0, 100))).filter(Boolean).length, 0)

  // clear() reaches the keys on all three masters, and only ours: foreign keys on each master stay.
  const client = new Cluster([...cluster.nodes])
  t.after(() => client.disconnect())
  const foreign = Array.from({ length: 30 }, (_, i) => `other-app:${i}`)
  await Promise.all(foreign.map((k) => client.set(k, 'keep')))
  await store.clear('')
  assert.deepEqual((await store.getMany(keys)).filter(Boolean), [], 'clear() left keys behind on some master')
  const kept = await Promise.all(foreign.map((k) => client.get(k)))
  assert.deepEqual(
    kept,
    foreign.map(() => 'keep'),
    'clear() deleted foreign keys',
  )
  // Looked at from the outside (KEYS is fine on a private test cluster): nothing under the prefix.
  for (const service of cluster.services)
    assert.deepEqual(await redisCommand(service.url, 'KEYS', 'many:*'), [])
  await Promise.all(foreign.map((k) => client.del(k)))
})

test('an injected Cluster client works and is not closed by close()', async (t) => {
  const client = new Cluster([...cluster.nodes], { enableOfflineQueue: false })
  t.after(() => client.disconnect())
  const store = new RedisStore({ client, prefix: 'injected:' })
  await store.ready()
  await store.set('a', entry('A'), 60_000)
  await store.set('b', entry('B'), 60_000)
  assert.deepEqual(
    (await store.getMany(['a', 'b', 'c'])).map((e) => e?.value),
    ['A', 'B', undefined],
  )
  await store.clear('')
  await store.close()
  assert.equal(client.status, 'ready')
  assert.equal(await client.ping(), 'PONG')
})

test('lock on Cluster: one holder among concurrent callers, safe release', async (t) => {
  const stores = await Promise.all([clusterStore('lock:'), clusterStore('lock:')])
  t.after(() => Promise.all(stores.map((s) => s.close())))
  const attempts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (stores[i % 2] as RedisStore).lock('the-key', 10_000)),
  )
  const holders = attempts.filter(Boolean)
  assert.equal(holders.length, 1)
  await holders[0]?.release()
  const next = await (stores[1] as RedisStore).lock('the-key', 10_000)
  assert.ok(next)
  await next.release()
})

test('RedisBus on a Cluster client: two buses exchange messages (pub/sub is cluster-wide)', async (t) => {
  const publisher = new Cluster([...cluster.nodes])
  t.after(() => publisher.disconnect())
  const a = new RedisBus({ client: publisher, heartbeatInterval: 100 })
  const b = new RedisBus({ cluster: { nodes: [...cluster.nodes] }, heartbeatInterval: 100 })
  t.after(() => Promise.all([a.close(), b.close()]))
  const received: BusMessage[] = []
  const statuses: boolean[] = []
  await Promise.all([
    a.subscribe(
      'fp-bus',
      () => {},
      () => {},
    ),
    b.subscribe(
      'fp-bus',
      (m) => received.push(m),
      (up) => statuses.push(up),
    ),
  ])
  assert.equal(a.up, true)
  assert.equal(b.up, true)
  assert.deepEqual(statuses, [true])
  a.publish('fp-bus', { origin: 'a', keys: ['k1', 'k2'] })
  const deadline = Date.now() + 2000
  while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(received, [{ origin: 'a', keys: ['k1', 'k2'] }])
})
