/**
 * How busy the machine was with work that is not ours. Benchmarks here share a small VM with
 * builds and test runs; a window during which another process took half a core says more about
 * that process than about the scenario. The harness reads the kernel's CPU counters around each
 * window and reports the CPU used by everything else, so a noisy result is visible as such.
 */

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Kernel ticks per second of /proc/stat counters. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** Busy time of all CPUs in seconds (user, nice and system; interrupts excluded, they serve our sockets too). */
export function readBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
    const [, user = 0, nice = 0, system = 0] = line.trim().split(/\s+/).map(Number)
    return (user + nice + system) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}
