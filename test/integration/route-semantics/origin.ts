// The scriptable origin of the semantics suite, modelled on http-tests/cache-tests' server:
// each case registers a script (the sequence of responses its origin gives, one per call),
// and the origin counts its calls and records what each call received. "Served from cache"
// is then measured, never guessed: a response the origin did not produce during a request
// came from the cache.
//
// The same handler serves both modes: in-app it IS the cached route (one route per case,
// `/c/<id>/*`), in proxy mode it runs on a separate Fastify server behind the caching proxy
// (one route `/c/:id/*` for every case).
import type { RouteCacheControl } from '@fastify-perf/cache'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A header value in a script; a function is evaluated when the response is sent (`now` in ms). */
export type ScriptHeaderValue = string | string[] | ((now: number) => string)

/** One response of a case's origin script. */
export interface ScriptResponse {
  /** @default 200 */
  status?: number
  headers?: Record<string, ScriptHeaderValue>
  /**
   * The body. Default: `<case id> call=<n>` (see {@link defaultBody}), so a response names the
   * origin call that produced it. `''` sends no body.
   */
  body?: string
  /** Wait this long (ms) before answering: for coalescing and "served at once" checks. */
  delayMs?: number
  /** Throw from the handler instead of answering (the route's error handler then sends a 500). */
  fail?: boolean
  /**
   * The origin cannot be reached. Proxy mode: the origin closes the connection without answering.
   * In-app: the handler, a gateway to a backend that is down, calls
   * `reply.cache.originUnreachable()` and answers 502.
   */
  disconnect?: boolean
  /** In-app only: `reply.cache.bypass()` for this response. */
  bypass?: boolean
  /** In-app only: `reply.cache.tags(...tags)` for this response. */
  tags?: string[]
}

/** What one origin call received. */
export interface OriginCall {
  /** 1-based call number within the case. */
  n: number
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
}

/** The body an origin call sends when its script gives none. */
export function defaultBody(caseId: string, call: number): string {
  return `${caseId} call=${call}`
}

interface CaseState {
  script: readonly ScriptResponse[]
  calls: OriginCall[]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Holds every case's script and call log. One instance per mode. */
export class Origin {
  readonly #cases = new Map<string, CaseState>()

  /** Registers (or resets) the script of case `id`. */
  register(id: string, script: readonly ScriptResponse[]): void {
    if (script.length === 0) throw new Error(`case ${id}: empty origin script`)
    this.#cases.set(id, { script, calls: [] })
  }

  /** How many times the origin was called for case `id`. */
  calls(id: string): number {
    return this.#state(id).calls.length
  }

  /** What the origin received for case `id`, in call order. */
  log(id: string): readonly OriginCall[] {
    return this.#state(id).calls
  }

  /**
   * Answers one request for case `id`: the n-th call gets the n-th script response (the last
   * one repeats). Usable directly as (part of) a Fastify handler.
   */
  async handle(id: string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | string> {
    const state = this.#state(id)
    const n = state.calls.length + 1
    state.calls.push({ n, method: request.method, url: request.url, headers: { ...request.headers } })
    const step = state.script[Math.min(n - 1, state.script.length - 1)]!
    if (step.delayMs !== undefined) await sleep(step.delayMs)
    if (step.fail) throw new Error(`origin failure scripted for ${id} call ${n}`)

    // Undefined on the proxy's origin, which does not register the cache.
    const cacheApi = reply.cache as RouteCacheControl | undefined
    if (step.disconnect) {
      if (cacheApi === undefined) {
        reply.hijack()
        request.raw.socket.destroy()
        return reply
      }
      cacheApi.originUnreachable()
      return reply.code(502).type('text/plain; charset=utf-8').send('Bad Gateway')
    }
    if (step.bypass) {
      if (cacheApi === undefined) throw new Error(`case ${id}: reply.cache.bypass() needs the route cache`)
      cacheApi.bypass()
    }
    if (step.tags !== undefined) {
      if (cacheApi === undefined) throw new Error(`case ${id}: reply.cache.tags() needs the route cache`)
      cacheApi.tags(...step.tags)
    }

    const now = Date.now()
    reply.code(step.status ?? 200)
    reply.header('x-origin-call', String(n))
    for (const [name, value] of Object.entries(step.headers ?? {})) {
      reply.header(name, typeof value === 'function' ? value(now) : value)
    }
    const body = step.body ?? defaultBody(id, n)
    const status = step.status ?? 200
    // 204 and 304 never carry content (RFC 9110 §15.3.5, §15.4.5).
    if (body === '' || status === 204 || status === 304) return reply.send()
    if (!reply.hasHeader('content-type')) reply.type('text/plain; charset=utf-8')
    return body
  }

  #state(id: string): CaseState {
    const state = this.#cases.get(id)
    if (state === undefined) throw new Error(`no origin script for case ${id}`)
    return state
  }
}

/** An HTTP-date `offsetSeconds` from `now` (RFC 9110 §5.6.7), for `Date`, `Expires`, `Last-Modified`. */
export function httpDate(offsetSeconds: number): (now: number) => string {
  return (now) => new Date(now + offsetSeconds * 1000).toUTCString()
}
