import { connect } from 'node:net'

/** Error of a raw protocol exchange; `code` is the socket's (`ECONNREFUSED`, ...) or `ETIMEDOUT`. */
export interface ExchangeError extends Error {
  code?: string
}

/**
 * Open a TCP connection, write `payload`, and read until `parse` recognises a complete
 * answer (it returns `undefined` while more bytes are needed). One connection per call:
 * these helpers look at servers from the outside, so simplicity beats speed.
 *
 * The timeout covers everything (connect, write, read): a frozen server accepts the
 * connection (the kernel does that) but never answers, and must end in `ETIMEDOUT`.
 */
export function exchange<T>(
  host: string,
  port: number,
  payload: Buffer,
  parse: (received: Buffer) => { value: T } | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let received = Buffer.alloc(0)
    let settled = false
    const socket = connect({ host, port })
    const finish = (err: ExchangeError | undefined, value?: T): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(value as T)
    }
    const timer = setTimeout(() => {
      const err: ExchangeError = new Error(`${what} on ${host}:${port}: no answer within ${timeoutMs} ms`)
      err.code = 'ETIMEDOUT'
      finish(err)
    }, timeoutMs)
    socket.on('error', (err: ExchangeError) => {
      err.message = `${what} on ${host}:${port}: ${err.message}`
      finish(err)
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      let parsed: { value: T } | undefined
      try {
        parsed = parse(received)
      } catch (err) {
        finish(err as Error)
        return
      }
      if (parsed) finish(undefined, parsed.value)
    })
    socket.on('end', () => {
      const err: ExchangeError = new Error(
        `${what} on ${host}:${port}: connection closed before a full answer`,
      )
      err.code = 'ECONNRESET'
      finish(err)
    })
    socket.write(payload)
  })
}
