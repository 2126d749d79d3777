import assert from 'node:assert/strict'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import {
  freePort,
  memcachedCommand,
  memcachedServers,
  redisCommand,
  redisUrl,
  startDelayRelay,
} from '../src/index.js'

/** A loopback echo server, closed (with its connections) after the test. */
async function echoServer(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as { port: number }).port
}

/** Opens a connection to `port`, collecting what it receives; destroyed after the test. */
async function client(t: TestContext, port: number) {
  const socket = connect({ host: '127.0.0.1', port })
  t.after(() => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  let received = ''
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('utf8')
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    received: () => received,
    closed,
    /** Resolves once `text` arrived in full, with the ms since `since`. */
    async until(text: string, since: number, timeoutMs = 2000): Promise<number> {
      const deadline = performance.now() + timeoutMs
      while (!received.includes(text)) {
        if (performance.now() > deadline) assert.fail(`"${text}" not received; got "${received}"`)
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      return performance.now() - since
    },
  }
}

test('startDelayRelay holds every chunk for delayMs each way, in order', async (t) => {
  const relay = await startDelayRelay({ port: await echoServer(t), delayMs: 40 })
  t.after(() => relay.close())
  assert.equal(relay.host, '127.0.0.1')
  const c = await client(t, relay.port)

  const started = performance.now()
  c.socket.write('ping')
  const roundTrip = await c.until('ping', started)
  // Held on the way in and on the way out.
  assert.ok(roundTrip >= 78, `round trip ${roundTrip.toFixed(1)} ms, expected >= 80`)
  assert.ok(roundTrip < 1000, `round trip ${roundTrip.toFixed(1)} ms`)

  // Many chunks written over time arrive in the order they were written, after a lowered delay too.
  const parts: string[] = []
  for (let i = 0; i < 50; i++) {
    const part = `<${i}>`
    parts.push(part)
    c.socket.write(part)
    if (i === 25) relay.setDelay(0)
    if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
  }
  await c.until(parts.at(-1)!, performance.now())
  assert.equal(c.received(), `ping${parts.join('')}`)

  // A lowered delay applies to new chunks.
  const fast = performance.now()
  c.socket.write('fast')
  assert.ok((await c.until('fast', fast)) < 40)
})

test('a Redis and a memcached behind the relay answer, late', async (t) => {
  const redis = new URL(await redisUrl())
  const redisRelay = await startDelayRelay({ host: redis.hostname, port: Number(redis.port), delayMs: 20 })
  t.after(() => redisRelay.close())
  redis.host = `${redisRelay.host}:${redisRelay.port}`
  let started = performance.now()
  assert.equal(await redisCommand(redis.href, 'PING'), 'PONG')
  assert.ok(performance.now() - started >= 38, `redis PING in ${performance.now() - started} ms`)

  const [memcachedHost, memcachedPort] = (await memcachedServers()).split(',')[0]!.split(':')
  const memcachedRelay = await startDelayRelay({
    host: memcachedHost,
    port: Number(memcachedPort),
    delayMs: 20,
  })
  t.after(() => memcachedRelay.close())
  started = performance.now()
  const version = await memcachedCommand(`${memcachedRelay.host}:${memcachedRelay.port}`, 'version')
  assert.match(version, /^VERSION /)
  assert.ok(performance.now() - started >= 38, `memcached version in ${performance.now() - started} ms`)
})

test('close() destroys the relayed connections and stops listening', async (t) => {
  const relay = await startDelayRelay({ port: await echoServer(t), delayMs: 5 })
  const c = await client(t, relay.port)
  c.socket.write('hello')
  await c.until('hello', performance.now())
  // A chunk still held when the relay closes is dropped with its connection.
  c.socket.write('never')
  await relay.close()
  await c.closed
  assert.equal(c.received(), 'hello')
  await assert.rejects(
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: relay.port })
      socket.once('connect', () => resolve(socket.destroy()))
      socket.once('error', reject)
    }),
    { code: 'ECONNREFUSED' },
  )
})

test('a refused upstream closes the client connection', async (t) => {
  // Nothing listens on a port just released.
  const relay = await startDelayRelay({ port: await freePort(), delayMs: 5 })
  t.after(() => relay.close())
  const c = await client(t, relay.port)
  await c.closed
  assert.equal(c.received(), '')
})

test('startDelayRelay refuses a negative delay', async () => {
  await assert.rejects(startDelayRelay({ port: 1, delayMs: -1 }), TypeError)
})
