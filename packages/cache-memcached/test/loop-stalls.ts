// Not a test file: a meter for the outage test, which bounds request latency on a small machine
// shared with other test processes and servers. The same method as
// packages/cache-redis/test/loop-stalls.ts.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/** Time this process's event loop could not run, over any span of a test. */
export interface StallMeter {
  /** Milliseconds between `from` and `to` (`performance.now()` times) the process was kept off the CPU. */
  stalledMs(from: number, to: number): number
  stop(): void
}

/**
 * Samples every `intervalMs`: when a sample comes late and the main thread did not spend the
 * delay on a CPU (its CPU time, from Linux's `/proc/self/schedstat`, did not grow by as much),
 * the process was kept from running: queued behind other processes on a 2-core machine, or its
 * vCPU not scheduled. Every request in flight is late by that much whatever the store does
 * (measured here without any outage: idle Node processes see 60 to 150 ms gaps while other test
 * suites run). Only that off-CPU time is ever subtracted: our own GC or synchronous work is CPU
 * time and still counts, and waiting for memcached is not a stall (an idle loop wakes on time).
 * Where schedstat cannot be read (not Linux), nothing is subtracted and bounds stay strict.
 */
export function stallMeter(intervalMs = 5): StallMeter {
  const cpuMs = (): number | undefined => {
    try {
      const ms = Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[0]) / 1e6
      return Number.isFinite(ms) ? ms : undefined
    } catch {
      return undefined
    }
  }
  const times = [performance.now()]
  // Cumulative stalled ms at each sample.
  const totals = [0]
  let lastCpu = cpuMs()
  const timer =
    lastCpu === undefined
      ? undefined
      : setInterval(() => {
          const now = performance.now()
          const cpu = cpuMs() ?? (lastCpu as number)
          const late = now - (times[times.length - 1] as number) - intervalMs
          const stalled = Math.max(0, late - (cpu - (lastCpu as number)))
          times.push(now)
          totals.push((totals[totals.length - 1] as number) + stalled)
          lastCpu = cpu
        }, intervalMs)

  /** Cumulative stall at `t`, interpolated within its sample interval. */
  const at = (t: number): number => {
    let hi = times.length - 1
    if (t <= (times[0] as number)) return 0
    if (t >= (times[hi] as number)) return totals[hi] as number
    let lo = 0
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if ((times[mid] as number) <= t) lo = mid
      else hi = mid
    }
    const t0 = times[lo] as number
    const s0 = totals[lo] as number
    return s0 + (((totals[hi] as number) - s0) * (t - t0)) / ((times[hi] as number) - t0)
  }

  return {
    stalledMs: (from, to) => Math.max(0, at(to) - at(from)),
    stop: () => clearInterval(timer),
  }
}
