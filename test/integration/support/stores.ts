// Stores for the route cache's integration tests: the three kinds on the suite's real servers (or
// a private one), isolated by a unique key prefix, optionally behind the helpers' delay relay, and
// counted from outside the app.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type CacheStore, MemoryStore } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisStore } from '@fastify-perf/cache-redis'
import {
  memcachedCommand,
  memcachedServers,
  redisCommand,
  redisUrl,
  type ServiceHandle,
  startDelayRelay,
  testKeyPrefix,
} from '@fastify-perf/test-helpers'

/** How long the relay holds each chunk, each way: a store round trip costs at least twice this. */
export const RELAY_DELAY_MS = 20

export type StoreName = 'memory' | 'redis' | 'memcached'

export interface StoreSetup {
  readonly name: StoreName
  /** 0: the store's server directly; otherwise behind a relay holding each chunk this long. */
  readonly delayMs: number
}

export const memory: StoreSetup = { name: 'memory', delayMs: 0 }
export const redis: StoreSetup = { name: 'redis', delayMs: 0 }
export const memcached: StoreSetup = { name: 'memcached', delayMs: 0 }
export const lateRedis: StoreSetup = { name: 'redis', delayMs: RELAY_DELAY_MS }
export const lateMemcached: StoreSetup = { name: 'memcached', delayMs: RELAY_DELAY_MS }

/** The three stores, remote ones direct. */
export const DIRECT = [memory, redis, memcached] as const
/** The three stores, remote ones answering late. */
export const LATE = [memory, lateRedis, lateMemcached] as const

const STORE_CLASS: Record<StoreName, string> = {
  memory: 'MemoryStore',
  redis: 'RedisStore',
  memcached: 'MemcachedStore',
}

/** What test names call a store: `RedisStore`, `RedisStore behind a 20 ms relay`. */
export function storeLabel(setup: StoreSetup): string {
  const name = STORE_CLASS[setup.name]
  return setup.delayMs === 0 ? name : `${name} behind a ${setup.delayMs} ms relay`
}

// --- set-up ----------------------------------------------------------------------------------

export type Defer = (close: () => unknown) => void

/**
 * Closes what a test started in reverse order of creation (apps before their stores, stores
 * before their relays and servers), whatever the test's outcome.
 */
export function closer(t: TestContext): Defer {
  const closes: Array<() => unknown> = []
  t.after(async () => {
    const errors: unknown[] = []
    for (const close of closes.reverse()) {
      try {
        await close()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw errors[0]
  })
  return (close) => closes.push(close)
}

export interface OpenStore {
  readonly store: CacheStore
  /** How many route entries (variants and per-URL records) the store holds for this test's cache. */
  routeKeys(): Promise<number>
}

/**
 * A store of kind `setup` for one test, isolated by a unique key prefix on the shared servers (or
 * on `server`, a private one), behind a delay relay when `setup.delayMs` > 0.
 */
export async function openStore(setup: StoreSetup, defer: Defer, server?: ServiceHandle): Promise<OpenStore> {
  if (setup.name === 'memory') {
    const store = new MemoryStore()
    defer(() => store.close())
    // A private store: every entry in it is this test's.
    return { store, routeKeys: async () => store.entries }
  }
  const prefix = testKeyPrefix('route-shared')
  if (setup.name === 'redis') {
    const direct = server?.url ?? (await redisUrl())
    const url = new URL(direct)
    if (setup.delayMs > 0) {
      const relay = await startDelayRelay({
        host: url.hostname,
        port: Number(url.port || 6379),
        delayMs: setup.delayMs,
      })
      defer(() => relay.close())
      url.host = `${relay.host}:${relay.port}`
    }
    const store = new RedisStore({ url: url.href, prefix })
    defer(() => store.close())
    await store.ready()
    // The cache's namespace is 'cache' (the default); route entries live under `<namespace>:r:`.
    return { store, routeKeys: () => countRedisKeys(direct, `${prefix}cache:r:*`) }
  }
  const direct = server?.url ?? (await memcachedServers())
  const servers = direct.split(/[,\s]+/).filter(Boolean)
  let target = direct
  if (setup.delayMs > 0) {
    if (servers.length !== 1) throw new Error('the relay set-up expects one memcached server')
    const server = servers[0]!
    const [host, port] = hostPort(server)
    const relay = await startDelayRelay({ host, port, delayMs: setup.delayMs })
    defer(() => relay.close())
    // SASL credentials, if any, stay in front of the relay's address.
    target = `${server.slice(0, server.lastIndexOf('@') + 1)}${relay.host}:${relay.port}`
  }
  const store = new MemcachedStore({ servers: target, prefix })
  defer(() => store.close())
  return { store, routeKeys: () => countMemcachedRouteKeys(servers, prefix) }
}

function hostPort(server: string): [string, number] {
  const hostAndPort = server.slice(server.lastIndexOf('@') + 1)
  const colon = hostAndPort.lastIndexOf(':')
  return colon === -1
    ? [hostAndPort, 11211]
    : [hostAndPort.slice(0, colon), Number(hostAndPort.slice(colon + 1))]
}

/** Keys matching `pattern` on a Redis, by SCAN (never KEYS), read from outside the app. */
async function countRedisKeys(url: string, pattern: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const reply = (await redisCommand(url, 'SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [
      string,
      string[],
    ]
    cursor = reply[0]
    count += reply[1].length
  } while (cursor !== '0')
  return count
}

/**
 * Route entries of this test's cache on memcached, from `lru_crawler metadump all` on every
 * server. MemcachedStore writes `<prefix><generation>:<namespace>:r:<key>` for a short printable
 * key, and `<prefix>#<sha256>` for any other; the only other keys under this test's unique prefix
 * are the namespace's generation record (`<prefix>gen:cache`), so hashed keys count as route
 * entries too (this cache writes no tags and takes no locks).
 */
async function countMemcachedRouteKeys(servers: readonly string[], prefix: string): Promise<number> {
  const routeKey = /^[A-Za-z0-9_-]+:cache:r:/
  let count = 0
  for (const server of servers) {
    let dump = ''
    for (let attempt = 0; ; attempt++) {
      dump = await memcachedCommand({ servers: server, timeoutMs: 10_000 }, 'lru_crawler metadump all')
      // Another client's crawl in progress: memcached answers BUSY, try again shortly.
      if (!dump.startsWith('BUSY') || attempt === 20) break
      await sleep(50)
    }
    assert.ok(dump.endsWith('END'), `metadump answered ${dump.slice(0, 200)}`)
    for (const line of dump.split('\n')) {
      const match = /^key=(\S+)/.exec(line)
      if (match === null) continue
      const key = decodeURIComponent(match[1]!)
      if (!key.startsWith(prefix)) continue
      const rest = key.slice(prefix.length)
      if (rest.startsWith('#') || routeKey.test(rest)) count++
    }
  }
  return count
}
