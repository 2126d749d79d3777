/**
 * Throughput mode: how many requests per second one server core gives each scenario at N
 * connections, with latency and CPU per request, as ratios to `limit` measured in the same run.
 *
 * Rounds are interleaved (limit, slow, data-hit, limit, slow, data-hit, ...) so that a slow phase
 * of the VM hits every scenario, not just the one measured at that moment; each measurement gets
 * a fresh server process so that one process's luck (JIT, heap layout) is one sample among several.
 */

import type { LoadGenerator } from './load-generator.js'
import {
  loadJob,
  measureWindow,
  progress,
  type RecordedFailure,
  recordFailure,
  type WindowResult,
} from './measure.js'
import type { Pinning } from './processes.js'
import type { ScenarioDefinition } from './scenario.js'
import type { ServerHandle } from './server-handle.js'
import type { ServicePool } from './services.js'
import { startCheckedServer, stopAll, warmUp } from './start-server.js'
import { median, range } from './stats.js'

export interface ThroughputRound extends WindowResult {
  readonly round: number
  /** Load generator CPU as a share of one core (near 1 = the load generator was the bottleneck). */
  readonly loadCpuShare: number | undefined
  /** CPU used by other processes on the machine during the window, in cores (0.5 = half a core). */
  readonly otherCpuShare: number | undefined
}

/** Medians over the rounds that succeeded. Ratios are medians of per-round ratios to the reference. */
export interface ThroughputSummary {
  readonly requestsPerSecond: number
  readonly ratio: number
  readonly ratioRange: { min: number; max: number } | undefined
  readonly p50Ms: number
  readonly p99Ms: number
  readonly cpuUsPerRequest: number
  readonly cpuRatio: number
  readonly serverCpuShare: number
  readonly loadCpuShare: number
  readonly otherCpuShare: number
  readonly rssBytes: number
}

export interface ThroughputOutcome {
  readonly scenario: ScenarioDefinition
  readonly rounds: ThroughputRound[]
  failure: RecordedFailure | undefined
  summary: ThroughputSummary | undefined
}

export interface ThroughputSettings {
  readonly scenarios: readonly ScenarioDefinition[]
  readonly rounds: number
  readonly connections: number
  readonly durationSeconds: number
  readonly warmupSeconds: number
}

async function measureOnce(
  scenario: ScenarioDefinition,
  round: number,
  settings: ThroughputSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<ThroughputRound> {
  let server: ServerHandle | undefined
  try {
    server = await startCheckedServer(scenario, services, pinning.serverCpu)
    await warmUp([server], load, {
      connections: settings.connections,
      durationSeconds: settings.warmupSeconds,
    })
    const job = loadJob(server, {
      connections: settings.connections,
      durationSeconds: settings.durationSeconds,
    })
    const { results, loadCpuShare, otherCpuShare } = await measureWindow([server], [job], load)
    return { round, ...results[0]!, loadCpuShare, otherCpuShare }
  } finally {
    await stopAll([server])
  }
}

function summarize(outcome: ThroughputOutcome, reference: ThroughputOutcome): ThroughputSummary | undefined {
  const rounds = outcome.rounds
  if (rounds.length === 0) return undefined
  const referenceOf = (round: number) => reference.rounds.find((r) => r.round === round)
  const ratios = rounds.map(
    (r) => r.load.requestsPerSecond / (referenceOf(r.round)?.load.requestsPerSecond ?? Number.NaN),
  )
  const cpuRatios = rounds.map(
    (r) => r.cpuUsPerRequest / (referenceOf(r.round)?.cpuUsPerRequest ?? Number.NaN),
  )
  return {
    requestsPerSecond: median(rounds.map((r) => r.load.requestsPerSecond)),
    ratio: median(ratios),
    ratioRange: range(ratios),
    p50Ms: median(rounds.map((r) => r.load.latencyMs.p50)),
    p99Ms: median(rounds.map((r) => r.load.latencyMs.p99)),
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
    cpuRatio: median(cpuRatios),
    serverCpuShare: median(rounds.map((r) => r.serverCpuShare)),
    loadCpuShare: median(rounds.map((r) => r.loadCpuShare ?? Number.NaN)),
    otherCpuShare: median(rounds.map((r) => r.otherCpuShare ?? Number.NaN)),
    rssBytes: median(rounds.map((r) => r.rssBytes)),
  }
}

/**
 * Measures every scenario once per round, in registry order. A scenario that fails is reported
 * with its reason and left out of later rounds; the others go on. If the reference fails, nothing
 * can be compared and the run stops.
 */
export async function runThroughput(
  settings: ThroughputSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<ThroughputOutcome[]> {
  const outcomes: ThroughputOutcome[] = settings.scenarios.map((scenario) => ({
    scenario,
    rounds: [],
    failure: undefined,
    summary: undefined,
  }))
  const reference = outcomes[0]!
  for (let round = 1; round <= settings.rounds; round++) {
    for (const outcome of outcomes) {
      if (outcome.failure !== undefined) continue
      const name = outcome.scenario.name
      try {
        const measured = await measureOnce(outcome.scenario, round, settings, load, services, pinning)
        outcome.rounds.push(measured)
        const ratio =
          measured.load.requestsPerSecond / (reference.rounds.at(-1)?.load.requestsPerSecond ?? Number.NaN)
        progress(
          `  round ${round}/${settings.rounds}  ${name.padEnd(24)} ${Math.round(
            measured.load.requestsPerSecond,
          )
            .toLocaleString('en-US')
            .padStart(8)} req/s  ×${ratio.toFixed(3)}  ${measured.cpuUsPerRequest.toFixed(1)} µs/req`,
        )
      } catch (error) {
        recordFailure(outcome, name, name, round, settings.rounds, error)
        if (outcome === reference) return outcomes
      }
    }
  }
  for (const outcome of outcomes) outcome.summary = summarize(outcome, reference)
  return outcomes
}
