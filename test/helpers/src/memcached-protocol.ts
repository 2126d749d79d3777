import { exchange } from './socket-exchange.js'

/** Where to send a command: a server list as in `MEMCACHED_SERVERS`, and a timeout. */
export interface MemcachedTarget {
  /** `host:port` or a comma/space separated list; the command goes to the FIRST server. */
  servers: string
  /** Whole-exchange timeout in milliseconds. Default 2000. */
  timeoutMs?: number
}

const CRLF = Buffer.from('\r\n')

/**
 * Send one memcached text-protocol command over a fresh raw socket and return the raw
 * answer without its final CRLF (`'VERSION 1.6.18'`, `'STORED'`, `'VALUE k 0 1\r\nv\r\nEND'`).
 * `\r\n` is appended to `line`; a storage command carries its data block in `line`:
 * `'set k 0 60 1\r\nv'`. `noreply` commands get no answer and so time out: don't use them.
 * For looking at a server in tests (`stats`, `get k`, `flush_all` on a PRIVATE server only).
 *
 * @example
 * await memcachedCommand(servers, 'set k 0 60 5\r\nhello')
 * const answer = await memcachedCommand({ servers, timeoutMs: 200 }, 'get k')
 */
export async function memcachedCommand(target: string | MemcachedTarget, line: string): Promise<string> {
  const { servers, timeoutMs = 2000 } = typeof target === 'string' ? { servers: target } : target
  const first = servers.split(/[,\s]+/).find(Boolean)
  if (!first) throw new TypeError('memcachedCommand: empty server list')
  // memjs accepts `user:pass@host:port`; SASL is binary-protocol only, so just drop it here.
  const hostPort = first.slice(first.lastIndexOf('@') + 1)
  const colon = hostPort.lastIndexOf(':')
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = colon === -1 ? 11211 : Number(hostPort.slice(colon + 1))
  const payload = Buffer.from(line.endsWith('\r\n') ? line : `${line}\r\n`)
  const verb = line.split(/\s/, 1)[0] ?? ''
  return exchange(host, port, payload, parseAnswer, timeoutMs, `memcached ${verb}`)
}

/**
 * Complete when a line arrives that ends an answer. Data blocks (`VALUE`/`VA` headers carry
 * their byte length) are skipped by length, since the data itself may contain "END\r\n";
 * `STAT`/`ITEM` lines are part of a multi-line answer.
 */
function parseAnswer(buf: Buffer): { value: string } | undefined {
  let offset = 0
  for (;;) {
    const lineEnd = buf.indexOf(CRLF, offset)
    if (lineEnd === -1) return undefined
    const line = buf.toString('utf8', offset, lineEnd)
    const words = line.split(' ')
    let dataLength: number | undefined
    if (words[0] === 'VALUE') dataLength = Number(words[3])
    else if (words[0] === 'VA') dataLength = Number(words[1])
    if (dataLength !== undefined) {
      const next = lineEnd + 2 + dataLength + 2
      if (buf.length < next) return undefined
      // A meta `mg` answer is VA plus its data and nothing after; `get` ends with END.
      if (words[0] === 'VA') return { value: buf.toString('utf8', 0, next - 2) }
      offset = next
      continue
    }
    if (words[0] === 'STAT' || words[0] === 'ITEM') {
      offset = lineEnd + 2
      continue
    }
    return { value: buf.toString('utf8', 0, lineEnd) }
  }
}
