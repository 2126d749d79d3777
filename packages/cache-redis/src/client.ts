// The ioredis client types the store and the bus accept. Not ioredis's own `Redis | Cluster`:
// those are the classes of one install of ioredis, and a user's client comes from theirs. ioredis 6
// made both classes generic (`Redis<"legacy" | "resp3">`), and two installs never share a class,
// so an app's own ioredis 6 client was refused ("Type 'Redis<"legacy">' is not assignable to type
// 'Cluster | Redis'") while it worked at run time. These interfaces name only the methods we call,
// with the argument and reply types ioredis 5 and 6 both declare (for either reply mapping: the
// `Buffer` commands and every command below reply alike under both), so any ioredis 5 or 6
// `Redis` or `Cluster` fits, and the published types import nothing from the user's ioredis.

/** The commands and events the store and the bus use, common to an ioredis `Redis` and `Cluster`. */
export interface RedisCommandsClient {
  /** `true` on a `Cluster`. */
  readonly isCluster: boolean
  /** ioredis's connection status: `'ready'` when commands are answered. */
  readonly status: string
  getBuffer(key: string): Promise<Buffer | null>
  mgetBuffer(keys: string[]): Promise<Array<Buffer | null>>
  set(key: string, value: string | Buffer, px: 'PX', milliseconds: number): Promise<'OK'>
  set(key: string, value: string | Buffer, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>
  unlink(key: string): Promise<number>
  unlink(keys: Array<string | Buffer>): Promise<number>
  eval(script: string, numkeys: number, ...args: string[]): Promise<unknown>
  evalsha(sha1: string, numkeys: number, ...args: string[]): Promise<unknown>
  publish(channel: string, message: string): Promise<number>
  subscribe(...channels: string[]): Promise<unknown>
  quit(): Promise<'OK'>
  disconnect(): void
  // biome-ignore lint/suspicious/noExplicitAny: ioredis events pass different arguments
  on(event: string, listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: ioredis events pass different arguments
  once(event: string, listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: ioredis events pass different arguments
  off(event: string, listener: (...args: any[]) => void): unknown
}

/** An ioredis `Redis` (single node or Sentinel), of ioredis 5 or 6, as the store and the bus use it. */
export interface RedisNodeClient extends RedisCommandsClient {
  readonly options: { readonly keyPrefix?: string | undefined }
  scanBuffer(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: Buffer, keys: Buffer[]]>
  duplicate(override?: Record<string, unknown>): RedisNodeClient
}

/** An ioredis `Cluster`, of ioredis 5 or 6, as the store and the bus use it. */
export interface RedisClusterClient extends RedisCommandsClient {
  readonly options: {
    readonly keyPrefix?: string | undefined
    readonly redisOptions?: { readonly keyPrefix?: string | undefined } | undefined
  }
  nodes(role: 'master'): RedisNodeClient[]
  duplicate(startupNodes?: [], options?: Record<string, unknown>): RedisClusterClient
}

/**
 * An ioredis `Redis` or `Cluster` instance, of ioredis 5 or 6 (either reply mapping): what
 * `client` accepts and `store.client` answers. Cast it to your own `Redis` or `Cluster` for
 * commands the store does not use.
 */
export type RedisClient = RedisNodeClient | RedisClusterClient
