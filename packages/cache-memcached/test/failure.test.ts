import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeEntry, type StoredEntry } from '@fastify-perf/cache'
import {
  FST_PERF_MEMCACHED_CLOSED,
  FST_PERF_MEMCACHED_CONNECTION_LOST,
  FST_PERF_MEMCACHED_TIMEOUT,
  MemcachedStore,
} from '@fastify-perf/cache-memcached'
import { memcachedCommand, type ServiceHandle, startMemcached } from '@fastify-perf/test-helpers'

// The store on its own (no engine, so no engine deadline to hide behind) against servers that
// die or hang: what each operation costs, what stays in memory, and that nothing is left open.

const entry: StoredEntry = {
  value: 'v',
  createdAt: 0,
  freshUntil: 0,
  staleUntil: 0,
  graceUntil: 0,
  tags: [],
  tagVersions: [],
}

async function server(t: TestContext): Promise<ServiceHandle> {
  const handle = await startMemcached()
  // stop() also continues a frozen server first.
  t.after(() => handle.stop())
  return handle
}

/** How an operation ended and how long it took. */
async function timed(
  operation: Promise<unknown>,
): Promise<{ ms: number; error?: Error & { code?: string } }> {
  const started = performance.now()
  try {
    await operation
    return { ms: performance.now() - started }
  } catch (error) {
    return { ms: performance.now() - started, error: error as Error }
  }
}

/**
 * SIGSTOP, then wait until the kernel reports the process stopped (state `T` in /proc): the
 * signal is asynchronous, and on a busy machine memcached may still answer a request or two.
 */
async function freeze(handle: ServiceHandle): Promise<void> {
  handle.freeze()
  const deadline = Date.now() + 2000
  while (Date.now() < deadline) {
    const stat = readFileSync(`/proc/${handle.pid}/stat`, 'utf8')
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return
    await sleep(1)
  }
  throw new Error(`memcached ${handle.pid} did not stop`)
}

async function connections(handle: ServiceHandle): Promise<number> {
  const stats = await memcachedCommand(handle.url, 'stats')
  return Number(/STAT curr_connections (\d+)/.exec(stats)?.[1])
}

test('a killed server: operations fail at once, memjs logs nothing, and the restarted server is used again', async (t) => {
  const handle = await server(t)
  const store = new MemcachedStore({ servers: handle.url, prefix: 'killed:' })
  t.after(() => store.close())
  await store.set('k', entry, 60_000)

  const logged: unknown[] = []
  const log = console.log
  console.log = (...args: unknown[]) => logged.push(args)
  try {
    await handle.kill()
    for (let i = 0; i < 20; i++) {
      const { ms, error } = await timed(store.get('k'))
      assert.ok(error, 'a get against a dead server must fail (the engine turns it into a miss)')
      assert.ok(ms < 50, `a get against a dead server took ${ms.toFixed(1)} ms`)
    }
  } finally {
    console.log = log
  }
  assert.deepEqual(logged, [], 'memjs logged to the console')

  await handle.restart()
  // The first operation after the restart opens a new connection: no reconnect loop to wait for.
  await store.set('k', entry, 60_000)
  assert.equal((await store.get('k'))?.value, 'v')
})

/** readBytes callbacks called more than once (the contract says exactly once). */
let calledTwice = 0

/** `readBytes` (the engine's read) as a Promise; counts a second call of its callback. */
function readBytes(store: MemcachedStore, key: string): Promise<Uint8Array | null | undefined> {
  return new Promise((resolve, reject) => {
    let calls = 0
    store.readBytes(key, (error, bytes) => {
      if (++calls > 1) {
        calledTwice++
        return
      }
      if (error != null) reject(error)
      else resolve(bytes)
    })
  })
}

test('a frozen server under steady traffic (memjs#119): every operation fails within the timeout, nothing piles up', async (t) => {
  const handle = await server(t)
  const timeoutMs = 200
  const store = new MemcachedStore({ servers: handle.url, prefix: 'frozen:', timeout: timeoutMs })
  t.after(() => store.close())
  await store.set('k', entry, 60_000)

  await freeze(handle)
  // One read every 10 ms for 2 s (get and the engine's readBytes in turn): memjs's idle-based
  // timeout alone would never fire.
  const results: Array<Promise<{ ms: number; error?: Error & { code?: string } }>> = []
  let maxPending = 0
  for (let i = 0; i < 200; i++) {
    results.push(timed(i % 2 === 0 ? store.get('k') : readBytes(store, 'k')))
    maxPending = Math.max(maxPending, store.pending)
    await sleep(10)
  }
  const outcomes = await Promise.all(results)
  const slowest = Math.max(...outcomes.map((o) => o.ms))
  t.diagnostic(`slowest ${slowest.toFixed(0)} ms, most pending ${maxPending}, timeouts ${store.timeouts}`)
  for (const o of outcomes) {
    assert.equal(
      o.error?.code,
      'FST_PERF_MEMCACHED_TIMEOUT',
      `${o.error?.message} after ${o.ms.toFixed(0)} ms`,
    )
    assert.ok(o.error instanceof FST_PERF_MEMCACHED_TIMEOUT)
  }
  // The deadline plus one timer tick, with room for a busy machine.
  assert.ok(slowest < timeoutMs + 100, `an operation waited ${slowest.toFixed(0)} ms`)
  // Pending operations are those of one timeout window (about 20 here), not the whole freeze.
  assert.ok(maxPending <= 40, `${maxPending} operations were pending at once`)
  assert.equal(store.pending, 0)

  handle.thaw()
  // The first operation after the thaw opens a new connection and succeeds: no backoff to wait for.
  assert.equal((await store.get('k'))?.value, 'v')
  assert.equal(decodeEntry((await readBytes(store, 'k'))!)?.value, 'v')
  await sleep(50)
  assert.equal(calledTwice, 0, 'a readBytes callback was called twice')
})

test('a server that closes the connection (its connection limit reached): operations fail at once, the next connection works', async (t) => {
  // One worker thread and 30 connections at most: the fillers below use them all, and memcached
  // answers any further connection with a text "ERROR Too many open connections" and closes it.
  const handle = await startMemcached({ args: ['-c', '30', '-t', '1'] })
  t.after(() => handle.stop())
  const fillers: Socket[] = []
  t.after(() => {
    for (const socket of fillers) socket.destroy()
  })
  let refused = 0
  while (refused === 0 && fillers.length < 60) {
    const socket = connect(handle.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('data', () => refused++)
    fillers.push(socket)
    await sleep(5)
  }
  await sleep(50)
  assert.ok(refused > 0, 'memcached never reached its connection limit')

  const store = new MemcachedStore({ servers: handle.url, prefix: 'limit:', timeout: 3000 })
  t.after(() => store.close())
  // memjs leaves operations on a closed connection pending until some later error; here they
  // fail as soon as the server closes it, long before the 3 s timeout.
  // (When memcached's close comes as a reset, memjs's own error path reports ECONNRESET instead.)
  const { ms, error } = await timed(store.set('k', entry, 60_000))
  assert.ok(
    error instanceof FST_PERF_MEMCACHED_CONNECTION_LOST || error?.code === 'ECONNRESET',
    `got ${error?.message}`,
  )
  assert.ok(ms < 500, `the closed connection was noticed after ${ms.toFixed(0)} ms`)

  // Room again. memjs kept the half-read "ERROR ..." bytes in its receive buffer and would parse
  // every later response behind them, so nothing would ever complete; the store empties it.
  for (const socket of fillers) socket.destroy()
  await sleep(100)
  await store.set('k', entry, 60_000)
  assert.equal((await store.get('k'))?.value, 'v')
})

test('after kills and freezes, close() leaves no connection open', async (t) => {
  const handle = await server(t)
  const baseline = await connections(handle)
  const store = new MemcachedStore({ servers: handle.url, prefix: 'sockets:', timeout: 100 })
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, entry, 60_000)))
    await freeze(handle)
    // Each hung get, once failed by its deadline, is retried from its rejection handler: the
    // retry opens a new connection while the reset one is still closing, the race in which
    // memjs's 'close' handler orphans the new socket (open forever, unreachable by close()).
    await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.get(`k${i}`).catch(() => store.get(`k${i}`).catch(() => {})),
      ),
    )
    handle.thaw()
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.get(`k${i}`)))
  }
  await store.close()
  await store.close()
  const deadline = Date.now() + 2000
  let open = await connections(handle)
  while (open > baseline && Date.now() < deadline) {
    await sleep(50)
    open = await connections(handle)
  }
  // At most the baseline: a connection counted in it (one still closing from the set-up) may be
  // gone by now, which is not a leak (a run on Node 24 counted 1 against a baseline of 2).
  assert.ok(open <= baseline, `${open - baseline} connection(s) left open after close()`)
  const { error } = await timed(store.get('k0'))
  assert.ok(error instanceof FST_PERF_MEMCACHED_CLOSED)
})

test('two servers, one frozen: its keys fail over to the other, and come back after failoverTime', async (t) => {
  const a = await server(t)
  const b = await server(t)
  const store = new MemcachedStore({
    servers: [a.url, b.url],
    prefix: 'failover:',
    timeout: 100,
    failoverTime: 500,
  })
  t.after(() => store.close())
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
  await Promise.all(keys.map((k) => store.set(k, entry, 60_000)))

  await freeze(a)
  // The first round pays one timeout for the keys on the frozen server...
  await Promise.allSettled(keys.map((k) => store.get(k)))
  // ...then they go to the other server at once, where they are (harmless) misses.
  const started = performance.now()
  const answers = await Promise.allSettled(keys.map((k) => store.get(k)))
  const ms = performance.now() - started
  assert.ok(
    answers.every((r) => r.status === 'fulfilled'),
    'with failover, operations must not fail once the server is skipped',
  )
  assert.ok(ms < 50, `failed-over operations took ${ms.toFixed(0)} ms`)

  a.thaw()
  await sleep(600)
  const back = await store.getMany(keys)
  assert.ok(
    back.every((e) => e?.value === 'v'),
    'after failoverTime the keys are read from their own server again',
  )
})
