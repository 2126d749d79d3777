import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ExchangeError, memcachedCommand, memcachedServers, startMemcached } from '../src/index.js'

async function commandError(servers: string, timeoutMs: number): Promise<ExchangeError> {
  try {
    await memcachedCommand({ servers, timeoutMs }, 'version')
  } catch (err) {
    return err as ExchangeError
  }
  assert.fail('version succeeded')
}

/** `stats settings` as a name → value map. */
async function settings(servers: string): Promise<Map<string, string>> {
  const answer = await memcachedCommand(servers, 'stats settings')
  const map = new Map<string, string>()
  for (const line of answer.split('\r\n')) {
    const [kind, name, value] = line.split(' ')
    if (kind === 'STAT' && name !== undefined && value !== undefined) map.set(name, value)
  }
  return map
}

test('startMemcached runs a private server that answers and stops for good', async (t) => {
  const memcached = await startMemcached()
  t.after(() => memcached.stop())
  assert.equal(memcached.url, `127.0.0.1:${memcached.port}`)
  assert.match(await memcachedCommand(memcached.url, 'version'), /^VERSION \d+\.\d+/)
  assert.equal(await memcachedCommand(memcached.url, 'set greeting 0 60 5\r\nhello'), 'STORED')
  assert.equal(await memcachedCommand(memcached.url, 'get greeting'), 'VALUE greeting 0 5\r\nhello\r\nEND')
  assert.equal(await memcachedCommand(memcached.url, 'get missing'), 'END')

  const pid = memcached.pid
  await memcached.stop()
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
  assert.equal((await commandError(memcached.url, 1000)).code, 'ECONNREFUSED')
})

test('killing memcached through the helper and starting it again inside one test', async (t) => {
  const memcached = await startMemcached()
  t.after(() => memcached.stop())
  const { port, url } = memcached
  await memcachedCommand(url, 'set survives 0 60 2\r\nno')
  const firstPid = memcached.pid

  await memcached.kill()
  assert.equal((await commandError(url, 1000)).code, 'ECONNREFUSED')

  await memcached.restart()
  assert.equal(memcached.port, port)
  assert.notEqual(memcached.pid, firstPid)
  assert.match(await memcachedCommand(url, 'version'), /^VERSION /)
  assert.equal(await memcachedCommand(url, 'get survives'), 'END', 'a restarted memcached is empty')
})

test('a frozen memcached accepts connections but answers nothing until thawed', async (t) => {
  const memcached = await startMemcached()
  t.after(() => memcached.stop())
  memcached.freeze()
  assert.equal((await commandError(memcached.url, 300)).code, 'ETIMEDOUT')
  memcached.thaw()
  assert.match(await memcachedCommand(memcached.url, 'version'), /^VERSION /)
})

test('memoryMb and maxItemSize reach memcached', async (t) => {
  const memcached = await startMemcached({ memoryMb: 16, maxItemSize: '2m' })
  t.after(() => memcached.stop())
  const stats = await settings(memcached.url)
  assert.equal(stats.get('maxbytes'), String(16 * 1024 * 1024))
  assert.equal(stats.get('item_size_max'), String(2 * 1024 * 1024))
  assert.equal(stats.get('udpport'), '0')
})

test('memcachedCommand reads data blocks by length, even when they contain END', async (t) => {
  const memcached = await startMemcached()
  t.after(() => memcached.stop())
  const data = 'x\r\nEND\r\ny'
  assert.equal(await memcachedCommand(memcached.url, `set tricky 7 60 ${data.length}\r\n${data}`), 'STORED')
  assert.equal(
    await memcachedCommand(memcached.url, 'get tricky'),
    `VALUE tricky 7 ${data.length}\r\n${data}\r\nEND`,
  )
  // Multi-line answers end at END, and a list of servers targets the first one.
  const stats = await memcachedCommand(`${memcached.url},127.0.0.1:1`, 'stats')
  assert.match(stats, /^STAT pid \d+/)
  assert.match(stats, /\r\nEND$/)
})

test('a missing memcached binary fails with the install command', async () => {
  await assert.rejects(startMemcached({ binary: 'memcached-not-installed' }), (err: Error) => {
    assert.match(err.message, /apt-get install -y redis-server memcached/)
    assert.match(err.message, /MEMCACHED_SERVERS/)
    return true
  })
})

test('memcachedServers() gives MEMCACHED_SERVERS when set, else a private server stopped after the test', async (t) => {
  const shared = process.env.MEMCACHED_SERVERS
  t.after(() => {
    if (shared === undefined) delete process.env.MEMCACHED_SERVERS
    else process.env.MEMCACHED_SERVERS = shared
  })

  process.env.MEMCACHED_SERVERS = '127.0.0.1:1,127.0.0.1:2'
  assert.equal(await memcachedServers(t), '127.0.0.1:1,127.0.0.1:2')

  delete process.env.MEMCACHED_SERVERS
  let privateServers = ''
  await t.test('private server', async (st) => {
    privateServers = await memcachedServers(st)
    assert.match(await memcachedCommand(privateServers, 'version'), /^VERSION /)
  })
  assert.equal((await commandError(privateServers, 1000)).code, 'ECONNREFUSED')
})
