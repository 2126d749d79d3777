// The subset of autocannon's programmatic API the load process uses (the package ships no types,
// and @types/autocannon lags the 9.x result shape). Field meanings: autocannon's README, "API".
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface AutocannonOptions {
    url: string
    connections?: number
    /** Seconds. */
    duration?: number
    pipelining?: number
    /** Requests per second summed over all connections (each connection gets its share per second). */
    overallRate?: number
    headers?: Record<string, string>
    /** Socket timeout in seconds. */
    timeout?: number
  }

  interface AutocannonResult {
    /** Seconds actually elapsed. */
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
    requests: { total: number; sent: number }
  }

  interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop(): void
  }

  function autocannon(options: AutocannonOptions): Instance
  export default autocannon
}
