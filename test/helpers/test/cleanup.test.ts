import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type ExchangeError, memcachedCommand, redisCommand } from '../src/index.js'

const fixture = fileURLToPath(new URL('./fixtures/leave-servers-running.ts', import.meta.url))
const fileLevelFixture = fileURLToPath(new URL('./fixtures/file-level-redis.ts', import.meta.url))

/** Resolves once `probe` is refused, or fails after `withinMs`. */
async function refusedWithin(probe: () => Promise<unknown>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      await probe()
    } catch (err) {
      if ((err as ExchangeError).code === 'ECONNREFUSED') return
    }
    if (Date.now() > deadline) assert.fail(`still accepting connections after ${withinMs} ms`)
    await sleep(50)
  }
}

for (const how of ['exit', 'SIGTERM', 'SIGINT']) {
  test(`servers die with the test process that started them (${how})`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, how], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8')
    })
    const [code, signal] = await once(child, 'exit')
    const { redis, memcached } = JSON.parse(out) as { redis: string; memcached: string }
    if (how === 'exit') assert.equal(code, 0)
    // The helper re-raises the signal, so the parent still sees a death by signal.
    else assert.equal(signal, how)
    await refusedWithin(() => redisCommand({ url: redis, timeoutMs: 500 }, 'PING'), 3000)
    await refusedWithin(() => memcachedCommand({ servers: memcached, timeoutMs: 500 }, 'version'), 3000)
  })
}

test('redisUrl() without a test context: one private server per file, stopped in its after hook', async () => {
  const env = { ...process.env }
  delete env.REDIS_URL
  const child = spawn(process.execPath, ['--import', 'tsx', fileLevelFixture], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  child.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, out)
  assert.match(out, /after hook: ECONNREFUSED/)
})
