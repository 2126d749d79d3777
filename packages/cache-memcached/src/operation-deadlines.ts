import { performance } from 'node:perf_hooks'
import { FST_PERF_MEMCACHED_TIMEOUT } from './errors.js'
import { type MemjsServer, resetServer } from './memjs-sockets.js'

/** One operation waiting for its server. */
export interface PendingOperation {
  /** The server memjs picked for the key when the operation started; null when it had none. */
  readonly server: MemjsServer | null | undefined
  /** `performance.now()` past which the operation has failed. */
  readonly deadline: number
  /** Fails the operation: rejects its Promise, or calls its callback with `(error, undefined)`. */
  readonly fail: (error: Error, value: undefined) => void
}

/**
 * Our own per-operation timeout for memjs, because memjs's cannot be trusted with a hung server.
 *
 * memjs arms its timeout with `socket.setTimeout()`, which measures socket IDLE time: every
 * write resets it, so under steady traffic to a frozen memcached (SIGSTOP, a stuck VM, a
 * half-open connection) nothing ever times out and every callback stays pending, in memory,
 * forever (memjs#119, open; measured: the first operation only failed 0.5 s after the LAST
 * write). Here every operation gets a deadline; one timer, armed for the oldest deadline only
 * while something is pending, fails the expired ones and resets their server's connection with
 * memjs's own `Server#error()`, which fails everything else pending on it (memjs's failover then
 * moves those to another server when enabled). The next operation opens a new connection, so a
 * thawed or restarted server is used again without any other recovery step.
 *
 * Deadlines are monotonic (`performance.now()`) and all equal in length, so the insertion order
 * of the pending set is deadline order and a tick looks only at the expired head.
 */
export class OperationDeadlines {
  readonly #timeoutMs: number
  readonly #pending = new Set<PendingOperation>()
  #timer: NodeJS.Timeout | undefined
  /** Operations failed because their server did not answer in time. */
  timeouts = 0

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Number of operations waiting for an answer. */
  get size(): number {
    return this.#pending.size
  }

  /** Starts the clock of one operation. */
  track(
    server: MemjsServer | null | undefined,
    fail: (error: Error, value: undefined) => void,
  ): PendingOperation {
    const op: PendingOperation = { server, deadline: performance.now() + this.#timeoutMs, fail }
    this.#pending.add(op)
    if (this.#timer === undefined) this.#arm(this.#timeoutMs)
    return op
  }

  /** Marks an operation answered; false when it had already failed (timed out, or closed). */
  settle(op: PendingOperation): boolean {
    return this.#pending.delete(op)
  }

  /** Fails every pending operation with `error` and stops the timer. */
  close(error: Error): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const pending = [...this.#pending]
    this.#pending.clear()
    for (const op of pending) op.fail(error, undefined)
  }

  #arm(delayMs: number): void {
    // Unref'd: a pending operation's socket keeps the process alive if anything should.
    this.#timer = setTimeout(() => this.#tick(), Math.max(5, Math.ceil(delayMs))).unref()
  }

  #tick(): void {
    this.#timer = undefined
    const now = performance.now()
    const hung = new Set<MemjsServer>()
    for (const op of this.#pending) {
      if (op.deadline > now) break
      this.#pending.delete(op)
      this.timeouts++
      if (op.server) hung.add(op.server)
      op.fail(new FST_PERF_MEMCACHED_TIMEOUT(describe(op.server), this.#timeoutMs), undefined)
    }
    for (const server of hung) {
      resetServer(server, new FST_PERF_MEMCACHED_TIMEOUT(describe(server), this.#timeoutMs))
    }
    const next = this.#pending.values().next()
    if (!next.done && this.#timer === undefined) this.#arm(next.value.deadline - now)
  }
}

function describe(server: MemjsServer | null | undefined): string {
  return server ? `${server.host}:${server.port}` : '(none)'
}
