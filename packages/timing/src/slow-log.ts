import { kSent, kUser, phasesOf, type TimedRequest } from './request-state.js'
import { cacheDescription, closeTimers, handlerPhase, hasCacheActivity } from './server-timing.js'

// A request slower than `slowThreshold` is logged once, at `warn`, when its response has been
// sent, with what the Server-Timing header would show: the route template (so log queries group
// like the metrics), the automatic phases and the entries of `reply.timing`.

/** The object logged under `slowRequest`. Durations in milliseconds, rounded to microseconds. */
export interface SlowRequestLog {
  method: string
  route: string
  url: string
  statusCode: number
  durationMs: number
  thresholdMs: number
  /** `handler`, `cache`, `compress` and each `reply.timing` entry, in milliseconds. */
  phases: Record<string, number>
  /** The cache results seen, as in Server-Timing (`hit`, `hit=2 miss=1`). */
  cache?: string
}

/** Builds the log record; `end` is the `performance.now()` reading the duration was measured at. */
export function slowRequestRecord(
  request: TimedRequest,
  route: string,
  statusCode: number,
  start: number,
  end: number,
  thresholdMs: number,
): SlowRequestLog {
  // The handler phase ends where the header's does (onSend); `durationMs` runs to the response's end.
  const sent = request[kSent] === 0 ? end : request[kSent]
  const handlerMs = handlerPhase(request, start, sent)
  const totalMs = end - start
  // Null prototype: user entry names are arbitrary strings (`__proto__` included).
  const phases: Record<string, number> = Object.create(null)
  if (handlerMs >= 0) phases.handler = round(handlerMs)
  const record: SlowRequestLog = {
    method: request.method,
    route,
    url: request.url,
    statusCode,
    durationMs: round(totalMs),
    thresholdMs,
    phases,
  }
  const automatic = phasesOf(request)
  if (automatic !== null) {
    if (automatic.cacheMs > 0) phases.cache = round(automatic.cacheMs)
    if (automatic.compressEncoding !== '') phases.compress = round(automatic.compressMs)
    if (hasCacheActivity(automatic)) record.cache = cacheDescription(automatic)
  }
  closeTimers(request, sent)
  const user = request[kUser]
  if (user !== null) {
    // Repeated names (a timer run in a loop) add up, so the record stays one flat object.
    for (const entry of user.entries) phases[entry.name] = round((phases[entry.name] ?? 0) + entry.durationMs)
  }
  return record
}

/** Logs the slow request once at `warn`. */
export function logSlowRequest(request: TimedRequest, record: SlowRequestLog): void {
  request.log.warn(
    { slowRequest: record },
    `slow request: ${record.method} ${record.route} took ${record.durationMs} ms (threshold ${record.thresholdMs} ms)`,
  )
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
