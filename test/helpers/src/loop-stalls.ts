// A meter for the outage tests (packages/cache-redis and packages/cache-memcached), which bound
// request latency on a small machine shared with other test processes and servers.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/** Time this process's event loop could not run, over any span of a test. */
export interface StallMeter {
  /** Milliseconds between `from` and `to` (`performance.now()` times) the process was kept off the CPU. */
  stalledMs(from: number, to: number): number
  stop(): void
}

/**
 * Measures when this process's event loop was kept from running by something outside it: a timer
 * set every `intervalMs` fires late, and the main thread did not spend that time on a CPU.
 *
 * Why: on a 2-core machine shared with other test processes (and, in a VM, with the host), the
 * event loop is sometimes left off-CPU for tens of ms: queued behind other processes, or the vCPU
 * not run at all. Every request in flight is then late by that much, whatever the store does
 * (measured here without any outage: 60 to 200 ms gaps while other test suites run). Such a stall
 * is subtracted from a request's latency; nothing else is:
 * - time our own code blocks the loop (GC, synchronous work) is main-thread CPU time, not a stall;
 * - waiting for Redis or memcached is not a stall either: an idle loop wakes its timer on time.
 * CPU time is the main thread's, from Linux's `/proc/self/schedstat`; where that cannot be read
 * (not Linux), the meter reports no stall and bounds stay strict.
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
          // A read that fails after the first one counts as no CPU time spent (never NaN).
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

/**
 * Runs `call` and answers its wall time less the time the process was kept off the CPU meanwhile
 * (ms): what a deadline test bounds is the code's waiting, not the scheduler's. The meter stops with
 * the call, and with `cleanup` (a test's `t.after`) if the call throws.
 */
export async function timeOnCpu(
  call: () => Promise<unknown>,
  cleanup?: (stop: () => void) => void,
): Promise<number> {
  const meter = stallMeter()
  cleanup?.(() => meter.stop())
  const started = performance.now()
  await call()
  const ended = performance.now()
  meter.stop()
  return ended - started - meter.stalledMs(started, ended)
}
