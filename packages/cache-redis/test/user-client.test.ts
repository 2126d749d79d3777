// Issue 17: the store and the bus with a user's own ioredis client, of either major. The package
// depends on ioredis 6 and creates its clients with `protocol: 2`; an app's client may be
// ioredis 5, or ioredis 6 on its default RESP3 (optionally with `replyMapping: 'resp3'`). The
// same conformance suite and bus behaviour must hold for each. (Outages: outage.test.ts; Cluster:
// redis-cluster.test.ts.)
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BusMessage, StoredEntry } from '@fastify-perf/cache'
import { storeSuite } from '@fastify-perf/cache/testing'
import { RedisBus, type RedisClient, RedisStore, safeRedisOptions } from '@fastify-perf/cache-redis'
import { redisCommand, redisUrl, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import { Redis } from 'ioredis'
import { Redis as Redis5 } from 'ioredis5'

// The file's Redis (REDIS_URL, or a private one), got at the top level so that a private server
// lives as long as the file, not as long as the first test that asked for it.
const url = await redisUrl()

/** The clients an app may hand us, each made the way the app would. */
const USER_CLIENTS: ReadonlyArray<{ name: string; resp: 2 | 3; connect: (url: string) => RedisClient }> = [
  { name: 'ioredis 6 (RESP3, its default)', resp: 3, connect: (url) => new Redis(url) },
  {
    name: "ioredis 6 (RESP3, replyMapping 'resp3')",
    resp: 3,
    connect: (url) => new Redis(url, { replyMapping: 'resp3' }),
  },
  { name: 'ioredis 5', resp: 2, connect: (url) => new Redis5(url) },
]

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

/** Resolves once `client` is ready. */
async function ready(client: RedisClient): Promise<RedisClient> {
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
  return client
}

/** Polls `condition` every 5 ms; fails after `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now()
  while (!condition()) {
    if (performance.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`)
    await sleep(5)
  }
}

/** The protocol a client speaks, as the server sees it (`CLIENT INFO`'s `resp=`). */
async function respOf(client: RedisClient): Promise<number> {
  const info = String(await (client as unknown as Redis).client('INFO'))
  return Number(/ resp=(\d)/.exec(info)?.[1])
}

for (const user of USER_CLIENTS) {
  // One client for the whole suite, as an app holds one; each case gets a store of its own.
  let shared: Promise<RedisClient> | undefined
  const client = () => {
    shared ??= ready(user.connect(url))
    return shared
  }
  after(async () => (await shared)?.disconnect())

  test(`${user.name}: the client speaks RESP${user.resp}`, async () => {
    assert.equal(await respOf(await client()), user.resp)
  })

  for (const c of storeSuite({
    createStore: async () => new RedisStore({ client: await client(), prefix: testKeyPrefix('user-client') }),
    lock: true,
    add: true,
  }))
    test(`conformance (${user.name}): ${c.name}`, c.run)

  test(`${user.name}: a foreign value reads as a miss, clear() keeps other prefixes, the lock releases`, async (t) => {
    const prefix = testKeyPrefix('user-client-extra')
    const store = new RedisStore({ client: await client(), prefix })
    t.after(() => store.close())
    await redisCommand(url, 'SET', `${prefix}foreign`, 'not an entry', 'PX', 60_000)
    assert.equal(await store.get('foreign'), undefined)
    await redisCommand(url, 'SET', `other:${prefix}k`, 'x', 'PX', 60_000)
    await store.set('a:1', entry('one'), 60_000)
    await store.clear('')
    assert.equal(await store.get('a:1'), undefined)
    assert.equal(await redisCommand(url, 'GET', `other:${prefix}k`), 'x', 'clear() left its prefix')
    await redisCommand(url, 'DEL', `other:${prefix}k`)
    const lock = await store.lock('l', 10_000)
    assert.ok(lock)
    assert.equal(await store.lock('l', 10_000), undefined)
    await lock.release()
    await lock.release() // EVALSHA this time
    assert.equal(await redisCommand(url, 'EXISTS', `${prefix}l`), 0)
    assert.equal(store.client.status, 'ready', 'an injected client is never closed')
  })

  test(`${user.name}: the bus on it exchanges messages, and reports a lost subscriber down then up`, async (t) => {
    const redis = await startRedis()
    t.after(() => redis.stop())
    const channel = testKeyPrefix('user-client-bus')
    const buses = await Promise.all(
      [0, 1].map(async () => {
        const own = await ready(user.connect(redis.url))
        t.after(() => own.disconnect())
        const bus = new RedisBus({ client: own })
        t.after(() => bus.close())
        const messages: BusMessage[] = []
        const statuses: boolean[] = []
        await bus.subscribe(
          channel,
          (message) => messages.push(message),
          (up) => statuses.push(up),
        )
        return { bus, messages, statuses }
      }),
    )
    const [a, b] = buses as [(typeof buses)[0], (typeof buses)[0]]
    assert.equal(a.bus.up, true, 'up once subscribed')
    const sent: BusMessage = { origin: 'a', keys: ['ns:k1', 'ns:ключ 🔑'], clearPrefix: 'ns:' }
    a.bus.publish(channel, sent)
    await waitFor(() => b.messages.length === 1 && a.messages.length === 1, 1000, 'delivery')
    assert.deepEqual(b.messages, [sent])

    // The subscriber connections (duplicates of the user's client) are dropped by the server.
    const killed = Number(await redisCommand(redis.url, 'CLIENT', 'KILL', 'TYPE', 'pubsub'))
    assert.equal(killed, 2, 'one subscriber connection per bus')
    await waitFor(() => a.statuses.at(-1) === false, 1000, 'down when the subscriber is lost')
    await waitFor(
      () => a.statuses.at(-1) === true && b.statuses.at(-1) === true,
      3000,
      'up after it resubscribed',
    )
    b.bus.publish(channel, { origin: 'b', keys: ['after'] })
    await waitFor(() => a.messages.length === 2, 1000, 'delivery after the resubscribe')
    assert.deepEqual(a.statuses, [true, false, true])
    assert.equal(a.bus.badMessages + b.bus.badMessages, 0, 'every message (heartbeats too) was understood')
  })
}

test('safeRedisOptions() in a user ioredis 5 client: the fail-fast settings hold, protocol is ignored', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await redis.kill()
  const client = new Redis5(redis.url, safeRedisOptions())
  client.on('error', () => {})
  t.after(() => client.disconnect())
  const store = new RedisStore({ client })
  const started = performance.now()
  await assert.rejects(store.get('k'))
  assert.ok(performance.now() - started < 50, 'a dead Redis costs nothing: no offline queue')
  await redis.restart()
  await ready(client)
  assert.equal(await respOf(client), 2)
  await store.set('k', entry('v'), 60_000)
  assert.equal((await store.get('k'))?.value, 'v')
})
