import { exchange } from './socket-exchange.js'

/** A decoded RESP2 reply: simple and bulk strings as UTF-8 strings, integers as numbers, nil as null. */
export type RedisReply = string | number | null | RedisReply[]

/** The server answered with a RESP error (`-ERR ...`); `message` is the server's text. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError'
}

/** Where to send a command: a `redis://[user:password@]host[:port][/db]` URL, and a timeout. */
export interface RedisTarget {
  url: string
  /** Whole-exchange timeout in milliseconds. Default 2000. */
  timeoutMs?: number
}

const CRLF = Buffer.from('\r\n')

/**
 * Send one command to Redis over a fresh raw socket and return the decoded reply.
 * For looking at a server from the outside in tests (`DBSIZE`, `TTL k`, `FLUSHDB` on a
 * PRIVATE server only); the code under test talks to Redis through its own client.
 * Rejects with {@link RedisReplyError} on a RESP error, and with the socket's error
 * (`code: 'ECONNREFUSED'`) or `code: 'ETIMEDOUT'` when the server is down or frozen.
 *
 * @example
 * await redisCommand(redis.url, 'SET', 'k', 'v', 'PX', 1000)
 * assert.equal(await redisCommand({ url: redis.url, timeoutMs: 200 }, 'PING'), 'PONG')
 */
export async function redisCommand(
  target: string | RedisTarget,
  ...args: Array<string | number | Buffer>
): Promise<RedisReply> {
  const { url, timeoutMs = 2000 } = typeof target === 'string' ? { url: target } : target
  const parsed = parseRedisUrl(url)
  const commands: Array<Array<string | number | Buffer>> = []
  if (parsed.password !== undefined) {
    commands.push(parsed.username ? ['AUTH', parsed.username, parsed.password] : ['AUTH', parsed.password])
  }
  if (parsed.db !== 0) commands.push(['SELECT', parsed.db])
  commands.push(args)
  // Pipelined: the setup commands and the command itself go out in one write.
  const payload = Buffer.concat(commands.map(encodeCommand))
  const replies = await exchange(
    parsed.host,
    parsed.port,
    payload,
    (buf) => parseReplies(buf, commands.length),
    timeoutMs,
    `redis ${String(args[0] ?? '')}`,
  )
  for (const reply of replies) if (reply instanceof RedisReplyError) throw reply
  return replies[replies.length - 1] as RedisReply
}

interface ParsedRedisUrl {
  host: string
  port: number
  username: string | undefined
  password: string | undefined
  db: number
}

function parseRedisUrl(url: string): ParsedRedisUrl {
  const u = new URL(url)
  if (u.protocol !== 'redis:') throw new TypeError(`redisCommand supports redis:// URLs only, got ${url}`)
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0
  if (!Number.isInteger(db) || db < 0) throw new TypeError(`invalid database number in ${url}`)
  return {
    // URL keeps the brackets of IPv6 literals; net.connect wants them off.
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
  }
}

/** RESP2 request: an array of bulk strings. */
function encodeCommand(args: Array<string | number | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF)
  }
  return Buffer.concat(parts)
}

type Decoded = RedisReply | RedisReplyError

function parseReplies(buf: Buffer, count: number): { value: Decoded[] } | undefined {
  const values: Decoded[] = []
  let offset = 0
  while (values.length < count) {
    const next = parseOne(buf, offset)
    if (!next) return undefined
    values.push(next.value)
    offset = next.offset
  }
  return { value: values }
}

/** Decode one RESP2 value at `offset`, or `undefined` when the buffer ends before it does. */
function parseOne(buf: Buffer, offset: number): { value: Decoded; offset: number } | undefined {
  const lineEnd = buf.indexOf(CRLF, offset)
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buf[offset] as number)
  const line = buf.toString('utf8', offset + 1, lineEnd)
  const after = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, offset: after }
    case '-':
      return { value: new RedisReplyError(line), offset: after }
    case ':':
      return { value: Number(line), offset: after }
    case '$': {
      const length = Number(line)
      if (length === -1) return { value: null, offset: after }
      if (buf.length < after + length + 2) return undefined
      return { value: buf.toString('utf8', after, after + length), offset: after + length + 2 }
    }
    case '*': {
      const length = Number(line)
      if (length === -1) return { value: null, offset: after }
      const items: RedisReply[] = []
      let cursor = after
      for (let i = 0; i < length; i++) {
        const item = parseOne(buf, cursor)
        if (!item) return undefined
        // An error inside an array (EXEC results) is kept as its message.
        items.push(item.value instanceof RedisReplyError ? item.value.message : item.value)
        cursor = item.offset
      }
      return { value: items, offset: cursor }
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}
