import { createHash, randomUUID } from 'node:crypto'
import type { CacheStore, StoredEntry, StoreLock } from '@fastify-perf/cache'
import { decodeEntry, encodeEntry } from '@fastify-perf/cache'
import type { RedisClusterClient, RedisNodeClient } from './client.js'
import { type Connection, closeClient, openConnection, type RedisClient, waitReady } from './connection.js'
import { redisKey } from './keys.js'
import { type RedisStoreOptions, resolveOptions } from './options.js'
import { groupBySlot } from './slots.js'

// Keys per SCAN step and per UNLINK while clearing. SCAN's COUNT is a hint of how much of the
// keyspace one call walks; 1000 keeps each call well under a millisecond of server time.
const SCAN_COUNT = 1000

// Deletes the lock only if it still holds our token: a holder whose lock expired, and was taken
// by someone else meanwhile, must not release the new holder's lock.
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
const RELEASE_LOCK_SHA = createHash('sha1').update(RELEASE_LOCK).digest('hex')

const noop = () => {}

/**
 * The Redis store for `@fastify-perf/cache`, on ioredis: a single node, a Redis Cluster, or
 * Sentinel (through an injected client).
 *
 * Entries are stored as one binary string per key (`encodeEntry` of `@fastify-perf/cache`) with
 * `SET key bytes PX ttl`; reads are `GET`/`MGET` of raw bytes, so a hit costs one round trip and
 * no JSON. On Cluster, multi-key commands are split per hash slot. `clear()` walks its own prefix
 * with `SCAN` and `UNLINK`s what it finds, on every master; it never uses `KEYS`, `FLUSHDB` or
 * `FLUSHALL`. The optional lock is `SET NX PX` with a random token and a compare-and-delete release.
 *
 * Every failure surfaces as a rejected Promise, which the engine turns into a miss within its
 * `storeTimeout`; a client the store creates is also configured so nothing waits on it for long
 * (see `safeRedisOptions`).
 *
 * @example
 * import fastifyPerfCache from '@fastify-perf/cache'
 * import { RedisStore } from '@fastify-perf/cache-redis'
 *
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'shop:' })
 * await app.register(fastifyPerfCache, { store })
 * app.addHook('onClose', () => store.close())
 */
export class RedisStore implements CacheStore {
  readonly name = 'redis'
  /** The prefix every key of this store starts with. */
  readonly prefix: string
  readonly #connection: Connection
  readonly #client: RedisClient
  /** Whether this store has sent the release script with EVAL once, so EVALSHA should find it. */
  #scriptSent = false
  #closing: Promise<void> | undefined

  constructor(options: RedisStoreOptions) {
    const resolved = resolveOptions(options)
    this.prefix = resolved.prefix
    this.#connection = openConnection(resolved.connection)
    this.#client = this.#connection.client
  }

  /**
   * The ioredis client the store uses (yours when you passed `client`), typed by the methods the
   * store calls (see {@link RedisClient}): cast it to your `Redis` or `Cluster` for other commands.
   */
  get client(): RedisClient {
    return this.#client
  }

  /** Connection errors ioredis reported on a client the store created (0 for an injected one). */
  get connectionErrors(): number {
    return this.#connection.errors.count
  }

  /**
   * Resolves once the connection is ready. Optional: while it is not, operations fail at once and
   * the engine answers misses. Rejects with `FST_PERF_REDIS_NOT_READY` after `timeoutMs`.
   * @param timeoutMs default 5000
   */
  ready(timeoutMs = 5000): Promise<void> {
    return waitReady(this.#client, timeoutMs)
  }

  get(key: string): Promise<StoredEntry | undefined> {
    return this.#client.getBuffer(redisKey(this.prefix + key)).then(decode)
  }

  /** The entry's bytes (`GET`), which the engine decodes itself (see `CacheStore.getBytes`). */
  getBytes(key: string): Promise<Buffer | null> {
    return this.#client.getBuffer(redisKey(this.prefix + key))
  }

  getMany(keys: readonly string[]): Promise<ReadonlyArray<StoredEntry | undefined>> {
    if (keys.length === 0) return Promise.resolve([])
    const full = keys.map((key) => redisKey(this.prefix + key))
    if (!this.#client.isCluster) return this.#client.mgetBuffer(full).then((values) => values.map(decode))
    const out = new Array<StoredEntry | undefined>(keys.length)
    const pending: Array<Promise<void>> = []
    for (const group of groupBySlot(full).values()) {
      pending.push(
        this.#client.mgetBuffer(group.keys).then((values) => {
          for (let i = 0; i < values.length; i++) out[group.positions[i] as number] = decode(values[i])
        }),
      )
    }
    return Promise.all(pending).then(() => out)
  }

  set(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    // PX takes whole milliseconds, at least 1 (0 is an error).
    return this.#client
      .set(redisKey(this.prefix + key), encodeEntry(entry), 'PX', Math.max(1, Math.ceil(ttlMs)))
      .then(noop)
  }

  /** Writes the entry only if the key holds none (`SET NX PX`); answers whether it wrote. */
  add(key: string, entry: StoredEntry, ttlMs: number): Promise<boolean> {
    return this.#client
      .set(redisKey(this.prefix + key), encodeEntry(entry), 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')
      .then((reply) => reply === 'OK')
  }

  delete(key: string): Promise<boolean> {
    // UNLINK frees the value's memory in the background: a large entry never blocks the server.
    return this.#client.unlink(redisKey(this.prefix + key)).then((count) => count > 0)
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return Promise.resolve(0)
    return this.#unlink(keys.map((key) => redisKey(this.prefix + key)))
  }

  async clear(prefix: string): Promise<void> {
    // Escaping works code unit by code unit, so the escaped keys under `prefix` start with the
    // escaped prefix (for a prefix that does not end in half a surrogate pair; the engine's end in ':').
    const pattern = `${escapeGlob(redisKey(this.prefix + prefix))}*`
    const client = this.#client
    // On Cluster every master holds part of the keyspace; replicas hold copies, not more keys.
    const nodes = client.isCluster
      ? (client as RedisClusterClient).nodes('master')
      : [client as RedisNodeClient]
    await Promise.all(nodes.map((node) => this.#clearNode(node, pattern)))
  }

  async #clearNode(node: RedisNodeClient, pattern: string): Promise<void> {
    let cursor = '0'
    do {
      // Keys as Buffers, so a key is deleted byte-exact whatever bytes it holds.
      const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
      cursor = next.toString()
      if (keys.length > 0) await this.#unlink(keys)
    } while (cursor !== '0')
  }

  /** UNLINKs full keys (one command on a single node, one per hash slot on Cluster); answers the count. */
  #unlink(keys: Array<string | Buffer>): Promise<number> {
    if (!this.#client.isCluster) return this.#client.unlink(keys)
    const pending: Array<Promise<number>> = []
    for (const group of groupBySlot(keys).values()) pending.push(this.#client.unlink(group.keys))
    return Promise.all(pending).then((counts) => counts.reduce((sum, n) => sum + n, 0))
  }

  /**
   * Takes the cross-instance lock `key` for `ttlMs` (`SET key token NX PX ttlMs`, token random).
   * Answers a handle whose `release()` deletes the key only while it still holds our token.
   */
  async lock(key: string, ttlMs: number): Promise<StoreLock | undefined> {
    const fullKey = redisKey(this.prefix + key)
    const token = randomUUID()
    const taken = await this.#client.set(fullKey, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')
    if (taken !== 'OK') return undefined
    return { release: () => this.#release(fullKey, token) }
  }

  async #release(fullKey: string, token: string): Promise<void> {
    // EVALSHA sends 40 bytes instead of the script; the first call, and any call after the
    // server lost its script cache (restart, SCRIPT FLUSH), falls back to EVAL, which caches it.
    if (this.#scriptSent) {
      try {
        await this.#client.evalsha(RELEASE_LOCK_SHA, 1, fullKey, token)
        return
      } catch (error) {
        if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
      }
    }
    await this.#client.eval(RELEASE_LOCK, 1, fullKey, token)
    this.#scriptSent = true
  }

  /**
   * Closes the client if the store created it (a graceful `QUIT`, bounded by its command timeout);
   * leaves an injected client alone. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#connection.owned ? closeClient(this.#client) : Promise.resolve()
    return this.#closing
  }
}

function decode(value: Buffer | null | undefined): StoredEntry | undefined {
  return value == null ? undefined : decodeEntry(value)
}

// Characters special in Redis glob patterns (stringmatchlen): `*`, `?`, `[`, `]` and the escape
// `\` itself. Escaped, the prefix matches only itself, whatever the namespace contains.
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
