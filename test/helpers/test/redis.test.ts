import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ExchangeError, RedisReplyError, redisCommand, redisUrl, startRedis } from '../src/index.js'

/** The error a client gets from `redisCommand`, or a failure if the command succeeded. */
async function commandError(url: string, timeoutMs: number): Promise<ExchangeError> {
  try {
    await redisCommand({ url, timeoutMs }, 'PING')
  } catch (err) {
    return err as ExchangeError
  }
  assert.fail('PING succeeded')
}

test('startRedis runs a private server that answers and stops for good', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  assert.equal(redis.host, '127.0.0.1')
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`)
  assert.equal(await redisCommand(redis.url, 'PING'), 'PONG')
  assert.equal(await redisCommand(redis.url, 'SET', 'greeting', 'hello', 'PX', 60_000), 'OK')
  assert.equal(await redisCommand(redis.url, 'GET', 'greeting'), 'hello')
  assert.equal(await redisCommand(redis.url, 'DBSIZE'), 1)
  // Persistence off, as the helper promises.
  assert.deepEqual(await redisCommand(redis.url, 'CONFIG', 'GET', 'save'), ['save', ''])
  assert.deepEqual(await redisCommand(redis.url, 'CONFIG', 'GET', 'appendonly'), ['appendonly', 'no'])

  const pid = redis.pid
  await redis.stop()
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
  assert.throws(() => redis.pid, /not running/)
  assert.equal((await commandError(redis.url, 1000)).code, 'ECONNREFUSED')
})

test('killing Redis through the helper and starting it again inside one test', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const { port, url } = redis
  assert.equal(await redisCommand(url, 'PING'), 'PONG')
  await redisCommand(url, 'SET', 'survives', 'no')
  const firstPid = redis.pid

  await redis.kill()
  // What a client sees while Redis is down: the port refuses connections.
  assert.equal((await commandError(url, 1000)).code, 'ECONNREFUSED')

  await redis.restart()
  assert.equal(redis.port, port, 'restarted on the same port')
  assert.notEqual(redis.pid, firstPid, 'a new process')
  assert.equal(await redisCommand(url, 'PING'), 'PONG')
  // A crash loses everything: no persistence to reload from.
  assert.equal(await redisCommand(url, 'GET', 'survives'), null)
})

test('restart() waits for its port while another process holds it', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await redis.kill()
  // A squatter that hangs up at once: the helper's readiness probes connect to it too.
  const squatter = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => squatter.listen(redis.port, '127.0.0.1', resolve))
  const restarting = redis.restart()
  await sleep(300)
  await new Promise<void>((resolve) => squatter.close(() => resolve()))
  await restarting
  assert.equal(await redisCommand(redis.url, 'PING'), 'PONG')
})

test('a frozen Redis accepts connections but answers nothing until thawed', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  redis.freeze()
  const err = await commandError(redis.url, 300)
  assert.equal(err.code, 'ETIMEDOUT', 'the connection is accepted, then nothing comes back')
  redis.thaw()
  assert.equal(await redisCommand(redis.url, 'PING'), 'PONG')
})

test('stop() ends a frozen Redis too', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  redis.freeze()
  const pid = redis.pid
  await redis.stop()
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
})

test('restart() on a running Redis stops it first and keeps the port', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const { port } = redis
  const pid = redis.pid
  await redis.restart()
  assert.equal(redis.port, port)
  assert.notEqual(redis.pid, pid)
  assert.equal(await redisCommand(redis.url, 'PING'), 'PONG')
})

test('startRedis passes extra arguments to redis-server', async (t) => {
  const redis = await startRedis({ args: ['--maxmemory', '16mb', '--maxmemory-policy', 'allkeys-lru'] })
  t.after(() => redis.stop())
  assert.deepEqual(await redisCommand(redis.url, 'CONFIG', 'GET', 'maxmemory'), [
    'maxmemory',
    String(16 * 1024 * 1024),
  ])
  assert.deepEqual(await redisCommand(redis.url, 'CONFIG', 'GET', 'maxmemory-policy'), [
    'maxmemory-policy',
    'allkeys-lru',
  ])
})

test('a server that cannot start reports its own output', async () => {
  await assert.rejects(startRedis({ args: ['--no-such-option', 'x'] }), (err: Error) => {
    assert.match(err.message, /redis-server exited before answering/)
    assert.match(err.message, /no-such-option/i)
    return true
  })
})

test('a missing binary fails with the install command', async () => {
  await assert.rejects(startRedis({ binary: 'redis-server-not-installed' }), (err: Error) => {
    assert.match(err.message, /apt-get install -y redis-server memcached/)
    assert.match(err.message, /REDIS_URL/)
    return true
  })
})

test('redisCommand: RESP errors, nil, arrays, database numbers', async (t) => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  await assert.rejects(redisCommand(redis.url, 'NOSUCHCOMMAND'), RedisReplyError)
  assert.equal(await redisCommand(redis.url, 'GET', 'missing'), null)
  await redisCommand(redis.url, 'RPUSH', 'list', 'a', 'b', Buffer.from('c'))
  assert.deepEqual(await redisCommand(redis.url, 'LRANGE', 'list', 0, -1), ['a', 'b', 'c'])
  // The db in the URL is selected before the command.
  await redisCommand(`${redis.url}/3`, 'SET', 'in-db-3', 'x')
  assert.equal(await redisCommand(redis.url, 'EXISTS', 'in-db-3'), 0)
  assert.equal(await redisCommand(`${redis.url}/3`, 'EXISTS', 'in-db-3'), 1)
  // A bulk string holding CRLF and multi-byte characters comes back whole.
  const tricky = 'line one\r\nline two: é ✓\r\n'
  await redisCommand(redis.url, 'SET', 'tricky', tricky)
  assert.equal(await redisCommand(redis.url, 'GET', 'tricky'), tricky)
})

test('redisUrl() gives REDIS_URL when set, else a private server stopped after the test', async (t) => {
  const shared = process.env.REDIS_URL
  t.after(() => {
    if (shared === undefined) delete process.env.REDIS_URL
    else process.env.REDIS_URL = shared
  })

  process.env.REDIS_URL = 'redis://127.0.0.1:1'
  assert.equal(await redisUrl(t), 'redis://127.0.0.1:1')

  delete process.env.REDIS_URL
  let privateUrl = ''
  await t.test('private server', async (st) => {
    privateUrl = await redisUrl(st)
    assert.equal(await redisCommand(privateUrl, 'PING'), 'PONG')
  })
  assert.equal((await commandError(privateUrl, 1000)).code, 'ECONNREFUSED')
})
