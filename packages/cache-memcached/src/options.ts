import type { Duration, Size } from '@fastify-perf/cache'
import type { Client } from 'memjs'
import { FST_PERF_MEMCACHED_INVALID_OPTION } from './errors.js'

/** Options every `MemcachedStore` takes, whether it creates its client or is given one. */
export interface MemcachedCommonOptions {
  /**
   * Text put in front of every key this store writes, so several applications (or several
   * stores) can share one memcached. Printable ASCII without spaces, at most 100 characters.
   * @default 'fp:'
   */
  prefix?: string
  /**
   * The largest entry (the encoded bytes: value plus about 40 bytes of metadata) the store sends.
   * Larger entries are not stored and are counted in `store.oversized`. The default fits
   * memcached's default item size (`-I 1m`) with room for the longest key and the item header
   * (measured on memcached 1.6: an item holds at most 1 MiB − (key length + 59) bytes of value).
   * Raise it together with the server's `-I`. Bytes, or a string such as `'4MB'`.
   * @default 1048256 (1 MiB − 320 B)
   */
  maxValueSize?: Size
  /**
   * How long one operation may wait for its server. Past it the store drops that server's
   * connection, which fails every operation pending on it, and the next operation reconnects.
   * This bounds what a hung (frozen) server can hold in memory; `@fastify-perf/cache` answers
   * requests far sooner, with its own `storeTimeout` (50 ms by default).
   * Milliseconds, or a string such as `'250ms'`.
   * @default '250ms'
   */
  timeout?: Duration
  /**
   * How often the store re-reads the generation of each namespace it uses, so a `clear()` made
   * by another instance is seen within this delay (see the README). Milliseconds or a string.
   * @default '1s'
   */
  generationRefresh?: Duration
}

/** The store creates (and closes) its own memjs client for these servers. */
export interface MemcachedServersOptions extends MemcachedCommonOptions {
  /**
   * The servers: `'host:port,host:port'` or `['host:port', ...]`, each optionally
   * `user:password@host:port` (SASL). Keys are spread over them by rendezvous hashing, so
   * adding or removing a server moves only that server's share of the keys.
   */
  servers: string | readonly string[]
  client?: never
  /**
   * When a server fails, send its keys to the next server for `failoverTime` instead of
   * answering misses. Only meaningful with several servers (see the README for its trade-off).
   * @default true with several servers, false with one
   */
  failover?: boolean
  /**
   * How long a failed server is skipped when `failover` is on. Milliseconds or a string.
   * @default '1s'
   */
  failoverTime?: Duration
}

/** The store uses a memjs client you created (and that you close). */
export interface MemcachedClientOptions extends MemcachedCommonOptions {
  /**
   * A memjs `Client` (`memjs.Client.create(...)`) with memjs's default (no-op) serializer.
   * The store never closes it; configure its retries, timeouts and failover yourself.
   */
  client: Client
  servers?: never
  failover?: never
  failoverTime?: never
}

/** Options of `new MemcachedStore()`: `servers` (a client is created) or `client` (yours). */
export type MemcachedStoreOptions = MemcachedServersOptions | MemcachedClientOptions

/** The validated, frozen form of {@link MemcachedStoreOptions} the store works from. */
export interface ResolvedMemcachedStoreOptions {
  /** `host:port` entries (with credentials when given); `undefined` when a client was given. */
  readonly servers: readonly string[] | undefined
  readonly client: Client | undefined
  readonly prefix: string
  readonly maxValueSize: number
  readonly timeoutMs: number
  readonly failover: boolean
  readonly failoverTimeMs: number
  readonly generationRefreshMs: number
}

/** 1 MiB minus 320 bytes: a 250-byte key plus memcached's 59-byte item header, and a margin. */
export const DEFAULT_MAX_VALUE_SIZE = 1024 * 1024 - 320

const KNOWN: ReadonlySet<string> = new Set([
  'servers',
  'client',
  'prefix',
  'maxValueSize',
  'timeout',
  'failover',
  'failoverTime',
  'generationRefresh',
])
const CLIENT_METHODS = ['get', 'set', 'add', 'delete', 'server'] as const
// Printable ASCII without space: what a memcached key may hold (see keys.ts).
const PREFIX = /^[\x21-\x7e]{0,100}$/
const SERVER = /^(?:[^@\s,]*@)?([^:@\s,]+)(?::(\d{1,5}))?$/
// memcached refuses `-I` above 1 GB.
const MAX_ITEM_SIZE = 1024 ** 3

/**
 * Validates the caller's options and returns a new frozen object with defaults applied.
 * Pure: never mutates `options`. Throws `FST_PERF_MEMCACHED_INVALID_OPTION` (a `TypeError`).
 */
export function resolveOptions(options: MemcachedStoreOptions): ResolvedMemcachedStoreOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION(`options must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new FST_PERF_MEMCACHED_INVALID_OPTION(`unknown option "${key}"`)
  }
  // Read as one loose shape: each field is checked below, whichever variant the caller meant.
  const o = options as MemcachedCommonOptions & {
    servers?: unknown
    client?: Client
    failover?: unknown
    failoverTime?: Duration
  }
  if ((o.servers === undefined) === (o.client === undefined)) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION('give exactly one of "servers" and "client"')
  }

  let servers: string[] | undefined
  if (o.servers !== undefined) servers = parseServers(o.servers)
  else {
    assertClient(o.client)
    // An injected client comes configured: silently ignoring these would be worse than refusing.
    for (const name of ['failover', 'failoverTime'] as const) {
      if (o[name] !== undefined) {
        throw new FST_PERF_MEMCACHED_INVALID_OPTION(
          `"${name}" only applies to a client the store creates; set it on your memjs client`,
        )
      }
    }
  }

  const prefix = o.prefix ?? 'fp:'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION(
      '"prefix" must be at most 100 printable ASCII characters without spaces',
    )
  }
  const maxValueSize = toBytes(o.maxValueSize ?? DEFAULT_MAX_VALUE_SIZE, 'maxValueSize')
  if (maxValueSize < 1 || maxValueSize > MAX_ITEM_SIZE) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION('"maxValueSize" must be between 1 byte and 1 GB')
  }
  const failover = o.failover ?? (servers !== undefined && servers.length > 1)
  if (typeof failover !== 'boolean') {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION('"failover" must be a boolean')
  }

  return Object.freeze({
    servers: servers && Object.freeze(servers),
    client: o.client,
    prefix,
    maxValueSize,
    timeoutMs: positiveMs(o.timeout ?? '250ms', 'timeout'),
    failover,
    failoverTimeMs: positiveMs(o.failoverTime ?? '1s', 'failoverTime'),
    generationRefreshMs: positiveMs(o.generationRefresh ?? '1s', 'generationRefresh'),
  })
}

function parseServers(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(list) || list.length === 0) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION(
      '"servers" must be "host:port,host:port" or a non-empty array of "host:port"',
    )
  }
  return list.map((entry: unknown) => {
    const text = typeof entry === 'string' ? entry.trim() : undefined
    const match = text === undefined ? null : SERVER.exec(text)
    const port = match?.[2] === undefined ? 11211 : Number(match[2])
    if (text === undefined || match === null || port < 1 || port > 65535) {
      // memjs splits on ':' so IPv6 literals cannot be given; a host name resolving to one can.
      throw new FST_PERF_MEMCACHED_INVALID_OPTION(
        `"servers" entry ${JSON.stringify(entry)} is not "[user:password@]host[:port]"`,
      )
    }
    return text
  })
}

function assertClient(client: unknown): void {
  const c = client as Record<string, unknown> | null
  if (c === null || typeof c !== 'object' || !Array.isArray(c.servers)) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION('"client" must be a memjs Client (memjs.Client.create())')
  }
  for (const method of CLIENT_METHODS) {
    if (typeof c[method] !== 'function') {
      throw new FST_PERF_MEMCACHED_INVALID_OPTION(`"client" has no ${method}() method: is it a memjs Client?`)
    }
  }
}

// Durations and sizes read as in @fastify-perf/cache (same syntax), with this package's error.
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }
const QUANTITY = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i

function positiveMs(value: Duration, what: string): number {
  let ms: number | undefined
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = QUANTITY.exec(value)
    const unit = match && DURATION_UNITS[match[2]!.toLowerCase()]
    if (match && unit != null) ms = Number(match[1]) * unit
  }
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION(
      `"${what}" must be a duration above 0: milliseconds or a string such as "250ms", "1s"; got ${describeValue(value)}`,
    )
  }
  return ms
}

function toBytes(value: Size, what: string): number {
  let bytes: number | undefined
  if (typeof value === 'number') bytes = value
  else if (typeof value === 'string') {
    const match = QUANTITY.exec(value)
    const unit = match && SIZE_UNITS[match[2]!.toLowerCase()]
    if (match && unit != null) bytes = Math.floor(Number(match[1]) * unit)
  }
  if (bytes === undefined || !Number.isSafeInteger(bytes)) {
    throw new FST_PERF_MEMCACHED_INVALID_OPTION(
      `"${what}" must be a size: bytes or a string such as "512KB", "4MB"; got ${describeValue(value)}`,
    )
  }
  return bytes
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
