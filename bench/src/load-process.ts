/**
 * Entry point of the autocannon load process: a separate Node process (pinned to the load core),
 * so the load generator never shares an event loop or a core with the server it measures. It runs
 * the jobs of each request concurrently (two for a paired fixed-rate run) and reports normalized
 * results plus its own CPU share, which tells whether the load generator was the bottleneck.
 */

import { createRequire } from 'node:module'
import autocannon from 'autocannon'
import type { FromLoadMessage, LoadJob, LoadResult, ToLoadMessage } from './protocol.js'
import { percentile } from './stats.js'

const autocannonVersion: string = createRequire(import.meta.url)('autocannon/package.json').version

/** Latencies in ms, kept raw: autocannon's own histogram rounds to whole milliseconds. */
class LatencyRecorder {
  #values = new Float64Array(1 << 16)
  #length = 0

  record(ms: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.#length++] = ms
  }

  summary(): LoadResult['latencyMs'] {
    const sorted = this.#values.slice(0, this.#length).sort()
    let sum = 0
    for (const value of sorted) sum += value
    return {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      mean: sorted.length === 0 ? 0 : sum / sorted.length,
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
    }
  }
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const latencies = new LatencyRecorder()
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    // autocannon stops at its first 1 s sampling tick after the duration timer. A timer landing on
    // a tick boundary makes that one second early or late at random, and the two jobs of a pair
    // end up measuring different windows; stopping 50 ms before a whole second makes every job
    // end on the same tick.
    duration: Math.max(1, Math.round(job.durationSeconds)) - 0.05,
    pipelining: 1,
    headers: { ...job.headers },
    timeout: 30,
    ...(job.rate === undefined ? {} : { overallRate: job.rate }),
  })
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    latencies.record(responseTimeMs)
  })
  const result = await instance
  const requests = result.requests.total
  return {
    requests,
    durationSeconds: result.duration,
    requestsPerSecond: requests / result.duration,
    latencyMs: latencies.summary(),
    // autocannon counts 1xx, 3xx, 4xx and 5xx as "non 2xx"; wrk counts only statuses >= 400. A 304
    // is the expected answer of a revalidation scenario (static-304), so both count the same way:
    // anything outside 2xx/3xx.
    non2xx: result['1xx'] + result['4xx'] + result['5xx'],
    errors: result.errors,
    timeouts: result.timeouts,
  }
}

function send(message: FromLoadMessage): void {
  process.send?.(message)
}

process.on('message', async function onRun(message: ToLoadMessage) {
  if (message.type !== 'run') return
  try {
    const cpuBefore = process.cpuUsage()
    const wallBefore = performance.now()
    const results = await Promise.all(message.jobs.map(runJob))
    const cpu = process.cpuUsage(cpuBefore)
    const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)
    send({ type: 'result', id: message.id, results, cpuShare })
  } catch (error) {
    send({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) })
  }
})
process.on('disconnect', () => process.exit(0))
send({ type: 'ready', version: autocannonVersion })
