import { connect, createServer, type Socket } from 'node:net'

/** Options of {@link startDelayRelay}. */
export interface DelayRelayOptions {
  /** Host of the server the relay forwards to. Default `127.0.0.1`. */
  host?: string
  /** Port of the server the relay forwards to. */
  port: number
  /** How long every chunk is held before it is passed on, in ms, in each direction. */
  delayMs: number
}

/** A running relay from {@link startDelayRelay}. */
export interface DelayRelay {
  /** Always `127.0.0.1`: the relay listens on loopback only. */
  readonly host: string
  /** The relay's own port: point the client here. */
  readonly port: number
  /** Changes the delay of chunks received from now on (chunks already held keep their time). */
  setDelay(ms: number): void
  /** Stops listening and destroys every relayed connection; resolves once the server is closed. */
  close(): Promise<void>
}

/** One direction of one connection: chunks in arrival order, each with the time it may leave. */
class DelayedPipe {
  readonly #queue: Array<{ due: number; chunk: Buffer | null }> = []
  readonly #to: Socket
  #timer: NodeJS.Timeout | undefined
  #lastDue = 0

  constructor(to: Socket) {
    this.#to = to
  }

  /** Queues a chunk (`null`: the end of the stream) to be written `delayMs` from now. */
  push(chunk: Buffer | null, delayMs: number): void {
    // Never earlier than the chunk before it: order is kept even when the delay was lowered.
    const due = Math.max(Date.now() + delayMs, this.#lastDue)
    this.#lastDue = due
    this.#queue.push({ due, chunk })
    if (this.#timer === undefined) this.#schedule()
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }

  #schedule(): void {
    const head = this.#queue[0]
    if (head === undefined) {
      this.#timer = undefined
      return
    }
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, head.due - Date.now()))
  }

  #flush(): void {
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now) {
      const { chunk } = this.#queue.shift()!
      if (this.#to.destroyed) continue
      if (chunk === null) this.#to.end()
      else this.#to.write(chunk)
    }
    this.#schedule()
  }
}

/**
 * A loopback TCP relay to `host:port` that holds every chunk for `delayMs` in both directions,
 * keeping their order: a Redis or Memcached client pointed at the relay sees a server whose every
 * answer comes at least `2 × delayMs` late (the request is held on the way in, the answer on the
 * way out), as a store across a slow network would. Backpressure is not relayed: it is meant for
 * the small messages of a cache protocol.
 *
 * @example
 * const relay = await startDelayRelay({ port: redis.port, delayMs: 20 })
 * t.after(() => relay.close())
 * const store = new RedisStore({ url: `redis://${relay.host}:${relay.port}` })
 */
export async function startDelayRelay(options: DelayRelayOptions): Promise<DelayRelay> {
  const targetHost = options.host ?? '127.0.0.1'
  let delayMs = checkedDelay(options.delayMs)
  const sockets = new Set<Socket>()
  const pipes = new Set<DelayedPipe>()

  // Half-open sockets: an end from one side travels to the other after the chunks before it,
  // while answers still flow back.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: targetHost, port: options.port, allowHalfOpen: true })
    const toUpstream = new DelayedPipe(upstream)
    const toClient = new DelayedPipe(client)
    sockets.add(client)
    sockets.add(upstream)
    pipes.add(toUpstream)
    pipes.add(toClient)
    const closeBoth = (): void => {
      toUpstream.stop()
      toClient.stop()
      pipes.delete(toUpstream)
      pipes.delete(toClient)
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => toUpstream.push(chunk, delayMs))
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk, delayMs))
    client.on('end', () => toUpstream.push(null, delayMs))
    upstream.on('end', () => toClient.push(null, delayMs))
    // An error (a refused or reset connection) or a side destroyed without ending ends the pair at
    // once, as a broken network path would. Errors are handled here, never thrown.
    client.on('error', () => {})
    upstream.on('error', () => {})
    for (const socket of [client, upstream]) {
      socket.on('close', (hadError) => {
        sockets.delete(socket)
        if (hadError || !socket.readableEnded) closeBoth()
        else if (!sockets.has(client) && !sockets.has(upstream)) {
          pipes.delete(toUpstream)
          pipes.delete(toClient)
        }
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('delay relay: no port')

  return {
    host: '127.0.0.1',
    port: address.port,
    setDelay(ms: number) {
      delayMs = checkedDelay(ms)
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const pipe of pipes) pipe.stop()
      pipes.clear()
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      return closed
    },
  }
}

function checkedDelay(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new TypeError(`delay relay: delayMs must be a number >= 0, got ${String(ms)}`)
  }
  return ms
}
