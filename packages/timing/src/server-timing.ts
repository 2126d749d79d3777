import { performance } from 'node:perf_hooks'
import { FST_PERF_TIMING_INVALID_ENTRY } from './errors.js'
import {
  kHandlerStart,
  kUser,
  type Phases,
  phasesOf,
  type TimedRequest,
  type UserTimings,
} from './request-state.js'

// The `Server-Timing` header (W3C Server Timing, §3 "The Server-Timing header field"):
//
//   Server-Timing             = #server-timing-metric
//   server-timing-metric      = metric-name *( OWS ";" OWS server-timing-param )
//   metric-name               = token
//   server-timing-param       = server-timing-param-name OWS "=" OWS server-timing-param-value
//   server-timing-param-value = token / quoted-string
//
// with `token` and `quoted-string` from RFC 9110 §5.6.2 and §5.6.4. A name cannot be escaped, so
// characters outside `tchar` become `_`; a description is always sent as a quoted-string with `"`
// and `\` escaped as quoted-pairs, and characters a quoted-string cannot hold at all (controls,
// DEL) or that Node refuses in a header (above U+00FF) become `?`. Non-ASCII Latin-1 is replaced
// too: RFC 9110 keeps obs-text only for compatibility and browsers do not agree on its charset.

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const NOT_TCHAR = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/g
const PLAIN_QDTEXT = /^[\t\x20\x21\x23-\x5b\x5d-\x7e]*$/
const NOT_QDTEXT = /[^\t\x20-\x7e]/g
const QUOTED_PAIR = /["\\]/g

/** A metric name as an RFC 9110 token: invalid characters become `_`, an empty name `_`. */
export function toToken(name: string): string {
  if (TOKEN.test(name)) return name
  return name === '' ? '_' : name.replace(NOT_TCHAR, '_')
}

/** A description as an RFC 9110 quoted-string, quotes included. */
export function toQuotedString(text: string): string {
  if (PLAIN_QDTEXT.test(text)) return `"${text}"`
  return `"${text.replace(NOT_QDTEXT, '?').replace(QUOTED_PAIR, '\\$&')}"`
}

// Durations are sent in milliseconds with three decimals. `total` is rounded up and the phases
// down, so the automatic phases, which are disjoint intervals inside `total`, never add up to
// more than `total` on the wire either. Formatted by hand from an integer number of microseconds:
// `toFixed(3)` is the costliest step of building the header.
function micros(us: number): string {
  const ms = Math.floor(us / 1000)
  const rest = us - ms * 1000
  return `${ms}${rest < 10 ? '.00' : rest < 100 ? '.0' : '.'}${rest}`
}

function up(ms: number): string {
  return micros(Math.ceil(ms * 1000))
}

function down(ms: number): string {
  return micros(Math.floor(ms * 1000))
}

function nearest(ms: number): string {
  return micros(Math.round(ms * 1000))
}

/** How often, at most, dropped `reply.timing` calls are logged: one warning per app per interval. */
export const DROPPED_WARNING_INTERVAL_MS = 10_000

/**
 * The rate-limited warning for `reply.timing` calls with bad arguments, one per app. A timing
 * entry is diagnostics: a bad one is dropped, never a failed request, and a route that makes the
 * same bad call on every request logs one line per interval (with the count of the others).
 * @internal
 */
export class DroppedTimings {
  readonly #intervalMs: number
  #last = Number.NEGATIVE_INFINITY
  #suppressed = 0

  constructor(intervalMs: number = DROPPED_WARNING_INTERVAL_MS) {
    this.#intervalMs = intervalMs
  }

  /** Drops `call` (such as `add("db", -3)`) for `reason`: a warning on the request's logger unless one went out less than an interval ago. */
  drop(request: TimedRequest, call: string, reason: string): void {
    const now = performance.now()
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed++
      return
    }
    this.#last = now
    const suppressed = this.#suppressed
    this.#suppressed = 0
    const more = suppressed === 0 ? '' : ` (${suppressed} more dropped since the last warning)`
    request.log.warn(
      { err: new FST_PERF_TIMING_INVALID_ENTRY(`${call}: ${reason}`), droppedSinceLastWarning: suppressed },
      `@fastify-perf/timing: dropped reply.timing.${call}: ${reason}${more}; at most one such warning every ${this.#intervalMs / 1000} s`,
    )
  }
}

/**
 * The per-request API, `reply.timing`: your own entries in `Server-Timing` and in the slow-request
 * log. Durations are in milliseconds. Modeled on Hono's timing middleware (`startTime`,
 * `endTime`, `setMetric`, `wrapTime`).
 *
 * Timings never fail a request: a call with bad arguments (a name that is not a non-empty string,
 * a description that is not a string, a duration that is not a finite number >= 0, a `measure()`
 * without a function) adds no entry and logs a warning, at most one per app every 10 s.
 *
 * @example
 * reply.timing.start('db', 'products query')
 * const rows = await db.query(sql)
 * reply.timing.end('db')
 * const html = await reply.timing.measure('render', () => render(rows))
 * reply.timing.add('upstream', Number(upstreamResponse.headers['x-took-ms']))
 */
export class ReplyTiming {
  readonly #request: TimedRequest
  readonly #dropped: DroppedTimings

  /** @internal Created by the `reply.timing` getter. */
  constructor(request: TimedRequest, dropped: DroppedTimings) {
    this.#request = request
    this.#dropped = dropped
  }

  /**
   * Starts a timer. Ending it adds an entry; a timer still open when the response is sent is
   * ended then. Starting a name again restarts it. Bad arguments: dropped, with a warning.
   */
  start(name: string, description?: string): void {
    const reason = nameProblem(name) ?? descriptionProblem(description)
    if (reason !== null) {
      this.#dropped.drop(this.#request, `start(${show(name)})`, reason)
      return
    }
    const user = userTimings(this.#request)
    if (user.timers === null) user.timers = new Map()
    user.timers.set(name, { start: performance.now(), description })
  }

  /** Ends a timer started with {@link start} and returns its duration in ms, or `undefined` if no such timer is open. */
  end(name: string): number | undefined {
    const timers = this.#request[kUser]?.timers
    const timer = timers?.get(name)
    if (timer === undefined) return undefined
    timers!.delete(name)
    const durationMs = performance.now() - timer.start
    this.#request[kUser]!.entries.push({ name, durationMs, description: timer.description })
    return durationMs
  }

  /**
   * Runs `fn` and adds an entry for the time it took, also when it throws or its promise rejects.
   * Returns what `fn` returns: its value, or its promise for an async function. With a bad name
   * or description `fn` still runs, without an entry; a `fn` that is not a function is returned
   * as it is (so `await measure('db', promise)` still awaits the promise), without an entry.
   */
  measure<T>(name: string, fn: () => T, description?: string): T {
    let reason = nameProblem(name) ?? descriptionProblem(description)
    if (typeof fn !== 'function') reason = `fn must be a function, got ${typeof fn}`
    if (reason !== null) {
      this.#dropped.drop(this.#request, `measure(${show(name)})`, reason)
      return typeof fn === 'function' ? fn() : (fn as T)
    }
    const start = performance.now()
    let result: T
    try {
      result = fn()
    } catch (error) {
      this.#push(name, performance.now() - start, description)
      throw error
    }
    if (isThenable(result)) {
      const done = () => this.#push(name, performance.now() - start, description)
      return Promise.resolve(result).finally(done) as T
    }
    this.#push(name, performance.now() - start, description)
    return result
  }

  /**
   * Adds an entry measured elsewhere, in milliseconds (an upstream's own timing, for instance).
   * Bad arguments (such as a negative or `NaN` duration): dropped, with a warning.
   */
  add(name: string, durationMs: number, description?: string): void {
    let reason = nameProblem(name) ?? descriptionProblem(description)
    if (
      reason === null &&
      (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs < 0)
    ) {
      reason = `durationMs must be a finite number >= 0, got ${show(durationMs)}`
    }
    if (reason !== null) {
      this.#dropped.drop(this.#request, `add(${show(name)}, ${show(durationMs)})`, reason)
      return
    }
    this.#push(name, durationMs, description)
  }

  #push(name: string, durationMs: number, description: string | undefined): void {
    userTimings(this.#request).entries.push({ name, durationMs, description })
  }
}

function userTimings(request: TimedRequest): UserTimings {
  let user = request[kUser]
  if (user === null) {
    user = { entries: [], timers: null }
    request[kUser] = user
  }
  return user
}

function nameProblem(name: unknown): string | null {
  return typeof name === 'string' && name !== ''
    ? null
    : `the name must be a non-empty string, got ${show(name)}`
}

function descriptionProblem(description: unknown): string | null {
  return description === undefined || typeof description === 'string'
    ? null
    : `the description must be a string, got ${typeof description}`
}

/** An argument for the warning: short, and never the whole of a long string. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return typeof value
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Ends the timers still open at `now`, as the response goes out (Hono's `autoEnd`). */
export function closeTimers(request: TimedRequest, now: number): void {
  const user = request[kUser]
  if (user === null || user.timers === null || user.timers.size === 0) return
  for (const [name, timer] of user.timers) {
    user.entries.push({ name, durationMs: now - timer.start, description: timer.description })
  }
  user.timers.clear()
}

/**
 * The `handler` phase at `now`, in milliseconds: time in the handler not covered by the cache
 * and compression phases reported inside it, so the automatic phases are disjoint. -1 when no
 * handler ran (no route matched, or a hook answered first).
 */
export function handlerPhase(request: TimedRequest, start: number, now: number): number {
  const handlerStart = request[kHandlerStart]
  if (handlerStart === 0 || handlerStart < start) return -1
  const phases = phasesOf(request)
  return Math.max(now - handlerStart - (phases === null ? 0 : phases.nestedMs), 0)
}

/** The description of the cache phase: `hit`, or counts such as `hit=2 miss=1` when there were several lookups. */
export function cacheDescription(phases: Phases): string {
  const kinds: [string, number][] = [
    ['hit', phases.cacheHit],
    ['stale', phases.cacheStale],
    ['miss', phases.cacheMiss],
    ['coalesced', phases.cacheCoalesced],
    ['bypass', phases.cacheBypass],
  ]
  const seen = kinds.filter(([, count]) => count > 0)
  if (seen.length === 1 && seen[0]![1] === 1) return seen[0]![0]
  return seen.map(([kind, count]) => `${kind}=${count}`).join(' ')
}

/** Whether any cache lookup was attributed to the request. */
export function hasCacheActivity(phases: Phases): boolean {
  return (
    phases.cacheHit + phases.cacheMiss + phases.cacheStale + phases.cacheCoalesced + phases.cacheBypass > 0
  )
}

/**
 * `Server-Timing` of a route-cache hit answered by the edge path (before routing): its total and
 * `cache;desc="edge"`. Nothing else ran.
 */
export function edgeServerTimingValue(totalMs: number): string {
  return `total;dur=${up(totalMs)}, cache;desc="edge"`
}

/**
 * The `Server-Timing` value for `request` at `now` (a `performance.now()` reading, after `start`):
 * `total`, `handler`, `cache`, `compress`, then the entries of `reply.timing` in the order they
 * were added. Called only for responses `expose()` allows, so the string work is never paid otherwise.
 */
export function serverTimingValue(request: TimedRequest, start: number, now: number): string {
  const handlerMs = handlerPhase(request, start, now)
  let value = `total;dur=${up(now - start)}`
  if (handlerMs >= 0) value += `, handler;dur=${down(handlerMs)}`
  const phases = phasesOf(request)
  if (phases !== null) {
    if (hasCacheActivity(phases)) {
      value += phases.cacheMs > 0 ? `, cache;dur=${down(phases.cacheMs)};desc=` : ', cache;desc='
      value += toQuotedString(cacheDescription(phases))
    }
    if (phases.compressEncoding !== '') {
      value += `, compress;dur=${down(phases.compressMs)};desc=${toQuotedString(phases.compressEncoding)}`
    }
  }
  closeTimers(request, now)
  const user = request[kUser]
  if (user !== null) {
    for (const entry of user.entries) {
      value += `, ${toToken(entry.name)};dur=${nearest(entry.durationMs)}`
      if (entry.description !== undefined) value += `;desc=${toQuotedString(entry.description)}`
    }
  }
  return value
}
