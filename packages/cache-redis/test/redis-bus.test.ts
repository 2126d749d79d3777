import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BusMessage } from '@fastify-perf/cache'
import { RedisBus } from '@fastify-perf/cache-redis'
import { redisCommand, redisUrl, startRedis, testKeyPrefix } from '@fastify-perf/test-helpers'
import { Redis } from 'ioredis'

/** Polls `condition` every 5 ms; fails after `timeoutMs`. Answers the time it took, in ms. */
async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now()
  while (!condition()) {
    if (performance.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`)
    await sleep(5)
  }
  return performance.now() - started
}

/** A bus subscribed to `channel` that records what it receives and every status change. */
async function listeningBus(url: string, channel: string, heartbeatInterval?: number) {
  const bus = new RedisBus({ url, ...(heartbeatInterval ? { heartbeatInterval } : {}) })
  const messages: BusMessage[] = []
  const statuses: Array<{ up: boolean; at: number }> = []
  await bus.subscribe(
    channel,
    (message) => messages.push(message),
    (up) => statuses.push({ up, at: performance.now() }),
  )
  return { bus, messages, statuses, last: () => statuses.at(-1)?.up }
}

test('two buses on one server exchange messages; the sender gets its own too', async (t) => {
  const url = await redisUrl()
  const channel = testKeyPrefix('bus')
  const a = await listeningBus(url, channel)
  const b = await listeningBus(url, channel)
  t.after(() => Promise.all([a.bus.close(), b.bus.close()]))
  assert.equal(a.bus.up, true, 'subscribe() resolves once the bus is up')
  assert.deepEqual(
    b.statuses.map((s) => s.up),
    [true],
  )

  const sent: BusMessage = { origin: 'instance-a', keys: ['ns:k1', 'ns:ключ 🔑'], clearPrefix: 'ns:' }
  a.bus.publish(channel, sent)
  await waitFor(() => b.messages.length === 1 && a.messages.length === 1, 1000, 'delivery')
  assert.deepEqual(b.messages, [sent])
  assert.deepEqual(a.messages, [sent], 'the engine ignores its own messages by origin, the bus need not')

  // Another channel is not delivered to this one.
  a.bus.publish(`${channel}-other`, { origin: 'x' })
  await sleep(50)
  assert.equal(b.messages.length, 1)
})

test('garbage on the channel and a throwing handler are counted, never thrown into ioredis', async (t) => {
  const url = await redisUrl()
  const channel = testKeyPrefix('bus-garbage')
  const bus = new RedisBus({ url })
  t.after(() => bus.close())
  const received: BusMessage[] = []
  await bus.subscribe(
    channel,
    (message) => {
      if (message.origin === 'boom') throw new Error('handler bug')
      received.push(message)
    },
    () => {},
  )
  for (const text of ['not json', '42', 'null', '{"keys":["no origin"]}', '{"origin":"boom"}']) {
    await redisCommand(url, 'PUBLISH', channel, text)
  }
  await redisCommand(url, 'PUBLISH', channel, '{"origin":"ok","keys":["k"]}')
  await waitFor(() => received.length === 1, 1000, 'the good message')
  assert.deepEqual(received, [{ origin: 'ok', keys: ['k'] }])
  assert.equal(bus.badMessages, 5)
  assert.equal(bus.up, true)
})

test('killing the subscriber connection: down at once, up again after it resubscribes', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const channel = 'fp-bus'
  const a = await listeningBus(redis.url, channel)
  const b = await listeningBus(redis.url, channel)
  t.after(() => Promise.all([a.bus.close(), b.bus.close()]))
  assert.equal(a.last(), true)

  const killedAt = performance.now()
  const killed = Number(await redisCommand(redis.url, 'CLIENT', 'KILL', 'TYPE', 'pubsub'))
  assert.equal(killed, 2, 'one subscriber connection per bus')
  await waitFor(() => a.last() === false, 1000, 'onStatus(false)')
  const downIn = (a.statuses.at(-1)?.at ?? 0) - killedAt
  await waitFor(() => a.last() === true, 3000, 'onStatus(true) after reconnecting')
  const upIn = (a.statuses.at(-1)?.at ?? 0) - killedAt
  t.diagnostic(`subscriber killed: down after ${downIn.toFixed(0)} ms, up again after ${upIn.toFixed(0)} ms`)
  assert.ok(downIn < 200, `down reported after ${downIn} ms`)
  assert.deepEqual(
    a.statuses.map((s) => s.up),
    [true, false, true],
  )

  // Resubscribed for real: messages flow again, both ways.
  await waitFor(() => b.last() === true, 3000, 'b back up')
  b.bus.publish(channel, { origin: 'b', keys: ['after-kill'] })
  await waitFor(() => a.messages.length === 1, 1000, 'delivery after the reconnect')
})

test('a frozen server (SIGSTOP): down within 2 s through the heartbeat, up again after thaw', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const a = await listeningBus(redis.url, 'fp-bus')
  t.after(() => a.bus.close())
  assert.equal(a.last(), true)
  // Healthy: the heartbeat keeps it up.
  await sleep(1700)
  assert.deepEqual(
    a.statuses.map((s) => s.up),
    [true],
    'a healthy bus flapped',
  )

  redis.freeze()
  const frozenAt = performance.now()
  await waitFor(() => a.last() === false, 2500, 'onStatus(false) on a frozen server')
  const downIn = (a.statuses.at(-1)?.at ?? 0) - frozenAt
  redis.thaw()
  const thawedAt = performance.now()
  await waitFor(() => a.last() === true, 2000, 'onStatus(true) after thaw')
  const upIn = (a.statuses.at(-1)?.at ?? 0) - thawedAt
  t.diagnostic(`frozen: down after ${downIn.toFixed(0)} ms; thawed: up after ${upIn.toFixed(0)} ms`)
  assert.ok(downIn <= 2000, `down after ${downIn} ms`)
})

test('Redis killed and restarted: down, then up once the subscriber is back', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const a = await listeningBus(redis.url, 'fp-bus')
  const b = await listeningBus(redis.url, 'fp-bus')
  t.after(() => Promise.all([a.bus.close(), b.bus.close()]))
  await redis.kill()
  await waitFor(() => a.last() === false, 1000, 'down after the kill')
  await sleep(300)
  await redis.restart()
  const restartedAt = performance.now()
  await waitFor(() => a.last() === true && b.last() === true, 2000, 'up after the restart')
  t.diagnostic(`up ${(performance.now() - restartedAt).toFixed(0)} ms after Redis answered again`)
  a.bus.publish('fp-bus', { origin: 'a', keys: ['k'] })
  await waitFor(() => b.messages.length === 1, 1000, 'delivery after the restart')
})

test('a bus whose server is down at start: subscribe() resolves anyway, up when Redis comes', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await redis.kill()
  const started = performance.now()
  const a = await listeningBus(redis.url, 'fp-bus', 100)
  t.after(() => a.bus.close())
  const waited = performance.now() - started
  assert.ok(waited < 1000, `subscribe() waited ${waited} ms for a dead Redis`)
  assert.deepEqual(a.statuses, [], 'never up, and no "down" either: a bus starts down')
  assert.ok(a.bus.publishErrors > 0, 'pings to a dead server are counted')
  await redis.restart()
  await waitFor(() => a.last() === true, 2000, 'up once Redis is there')
})

test('close() is idempotent, stops the heartbeat, and closes only what the bus created', async (t) => {
  const url = await redisUrl()
  const client = new Redis(url)
  t.after(() => client.disconnect())
  // Ready first: otherwise a client still connecting reads 'connect' in the assertion below.
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
  const injected = new RedisBus({ client })
  const statuses: boolean[] = []
  await injected.subscribe(
    testKeyPrefix('bus-close'),
    () => {},
    (up) => statuses.push(up),
  )
  await injected.close()
  await injected.close()
  assert.equal(client.status, 'ready', 'the injected publisher was closed')
  assert.equal(injected.up, false)
  await sleep(100)
  assert.deepEqual(statuses, [true], 'no status after close')
  injected.publish('x', { origin: 'late' }) // a no-op, not a throw

  const created = new RedisBus({ url })
  await created.subscribe(
    testKeyPrefix('bus-close'),
    () => {},
    () => {},
  )
  await created.close()
  await created.close()
})
