// Not a test file: a meter for the outage tests, which bound request latency on a small machine
// shared with other test processes and Redis servers.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/** Time the event loop could not run, over any span of a test. */
export interface StallMeter {
  /** Milliseconds, between `from` and `to` (`performance.now()` times), the loop was kept from running. */
  stalledMs(from: number, to: number): number
  stop(): void
}

/**
 * Measures when this process's event loop was kept from running by something outside it: a timer
 * set every `intervalMs` fires late, and the main thread did not spend that time on a CPU.
 *
 * Why: on a 2-core machine shared with other test processes (and, in a VM, with the host), the
 * event loop is sometimes left off-CPU for tens of ms: queued behind other processes, or the vCPU
 * not run at all. Every request in flight is then late by that much, whatever the cache does
 * (measured here: 60 to 200 ms, in runs without any outage). Such a stall is subtracted from a
 * request's latency; nothing else is:
 * - time our own code blocks the loop (GC, synchronous work) is main-thread CPU time, not a stall;
 * - waiting for Redis is not a stall either: an idle loop wakes its timer on time.
 * CPU time is the main thread's, from Linux's `/proc/self/schedstat`; where that cannot be read
 * (not Linux), the meter reports no stall and bounds stay strict.
 */
export function stallMeter(intervalMs = 5): StallMeter {
  const readCpuMs = (): number | undefined => {
    try {
      const ms = Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[0]) / 1e6
      return Number.isFinite(ms) ? ms : undefined
    } catch {
      return undefined
    }
  }
  // Cumulative stalled ms at each sample time.
  const times: number[] = []
  const stalls: number[] = []
  let lastTime = performance.now()
  let lastCpu = readCpuMs()
  let total = 0
  const supported = lastCpu !== undefined
  times.push(lastTime)
  stalls.push(0)
  const sample = () => {
    const now = performance.now()
    const cpu = readCpuMs() as number
    total += Math.max(0, now - lastTime - intervalMs - (cpu - (lastCpu as number)))
    times.push(now)
    stalls.push(total)
    lastTime = now
    lastCpu = cpu
  }
  const timer = supported ? setInterval(sample, intervalMs) : undefined

  /** Cumulative stall at `t`, spread evenly over the sample interval around it. */
  const at = (t: number): number => {
    let hi = times.length - 1
    if (t <= (times[0] as number)) return 0
    if (t >= (times[hi] as number)) return stalls[hi] as number
    let lo = 0
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if ((times[mid] as number) <= t) lo = mid
      else hi = mid
    }
    const t0 = times[lo] as number
    const s0 = stalls[lo] as number
    return s0 + (((stalls[hi] as number) - s0) * (t - t0)) / ((times[hi] as number) - t0)
  }

  return {
    stalledMs: (from, to) => Math.max(0, at(to) - at(from)),
    stop: () => {
      if (timer === undefined) return
      clearInterval(timer)
    },
  }
}
