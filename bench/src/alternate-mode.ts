/**
 * Alternating throughput mode (`--alternate`), for throughput ratios within the VM's slow episodes.
 *
 * The default throughput mode measures each scenario for 5 s in turn, so a slow episode of the VM
 * (a few seconds in which the same code needs ~50 % more CPU per request, see docs/benchmarks.md)
 * lands on one scenario of a round and not on the `limit` it is divided by: per-round ratios of
 * the same code then range from 0.5 to 1.4. Here the `limit` server and the variant's server are
 * both started (pinned to the same core, only one under load at a time) and saturated in short
 * alternating slices, `limit, variant, variant, limit, limit, variant, …` (ABBA, so a steady
 * drift cancels too). Each pair of neighbouring slices gives one ratio; an episode covers both
 * slices of a pair, or splits one pair, instead of deciding a whole round. The result is the
 * median of the pair ratios, with the interquartile range as its spread.
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
import { median, percentile } from './stats.js'
import type { ThroughputSettings } from './throughput-mode.js'

export interface AlternatePair {
  readonly round: number
  readonly slice: number
  readonly reference: WindowResult
  readonly variant: WindowResult
  /** variant req/s ÷ reference req/s of the same pair. */
  readonly ratio: number
}

export interface AlternateSummary {
  /** Median of the pair ratios. */
  readonly ratio: number
  /** 25th and 75th percentiles of the pair ratios. */
  readonly ratioIqr: { low: number; high: number }
  /**
   * The median pair ratio of each round. A round keeps its two processes for all its slices, so
   * a process's own luck (JIT, heap layout: the A/A control has shown a round at 0.84) shows here.
   */
  readonly roundRatios: number[]
  readonly requestsPerSecond: number
  readonly referenceRequestsPerSecond: number
  readonly cpuUsPerRequest: number
  readonly referenceCpuUsPerRequest: number
  readonly p99Ms: number
  readonly pairs: number
}

export interface AlternateOutcome {
  /** The variant; for the A/A control, the reference itself. */
  readonly scenario: ScenarioDefinition
  readonly control: boolean
  readonly pairs: AlternatePair[]
  failure: RecordedFailure | undefined
  summary: AlternateSummary | undefined
}

export interface AlternateSettings extends ThroughputSettings {
  /** Pairs of slices per variant and round; `durationSeconds` is the length of one slice. */
  readonly slices: number
}

async function slice(
  server: ServerHandle,
  settings: AlternateSettings,
  load: LoadGenerator,
): Promise<WindowResult> {
  const job = loadJob(server, {
    connections: settings.connections,
    durationSeconds: settings.durationSeconds,
  })
  const { results } = await measureWindow([server], [job], load)
  return results[0]!
}

async function measureVariant(
  reference: ScenarioDefinition,
  outcome: AlternateOutcome,
  round: number,
  settings: AlternateSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<void> {
  let referenceServer: ServerHandle | undefined
  let variantServer: ServerHandle | undefined
  try {
    referenceServer = await startCheckedServer(reference, services, pinning.serverCpu)
    variantServer = await startCheckedServer(outcome.scenario, services, pinning.serverCpu)
    const warm = { connections: settings.connections, durationSeconds: settings.warmupSeconds }
    await warmUp([referenceServer], load, warm)
    await warmUp([variantServer], load, warm)
    for (let i = 0; i < settings.slices; i++) {
      // ABBA: the pair's order flips every slice (and every round), so a drift favours neither.
      const referenceFirst = (i + round) % 2 === 0
      let referenceResult: WindowResult
      let variantResult: WindowResult
      if (referenceFirst) {
        referenceResult = await slice(referenceServer, settings, load)
        variantResult = await slice(variantServer, settings, load)
      } else {
        variantResult = await slice(variantServer, settings, load)
        referenceResult = await slice(referenceServer, settings, load)
      }
      outcome.pairs.push({
        round,
        slice: i + 1,
        reference: referenceResult,
        variant: variantResult,
        ratio: variantResult.load.requestsPerSecond / referenceResult.load.requestsPerSecond,
      })
    }
  } finally {
    await stopAll([referenceServer, variantServer])
  }
}

function summarize(pairs: readonly AlternatePair[]): AlternateSummary | undefined {
  if (pairs.length === 0) return undefined
  const ratios = pairs.map((pair) => pair.ratio).sort((a, b) => a - b)
  return {
    ratio: median(ratios),
    ratioIqr: { low: percentile(ratios, 0.25), high: percentile(ratios, 0.75) },
    roundRatios: [...new Set(pairs.map((pair) => pair.round))].map((round) =>
      median(pairs.filter((pair) => pair.round === round).map((pair) => pair.ratio)),
    ),
    requestsPerSecond: median(pairs.map((pair) => pair.variant.load.requestsPerSecond)),
    referenceRequestsPerSecond: median(pairs.map((pair) => pair.reference.load.requestsPerSecond)),
    cpuUsPerRequest: median(pairs.map((pair) => pair.variant.cpuUsPerRequest)),
    referenceCpuUsPerRequest: median(pairs.map((pair) => pair.reference.cpuUsPerRequest)),
    p99Ms: median(pairs.map((pair) => pair.variant.load.latencyMs.p99)),
    pairs: pairs.length,
  }
}

/**
 * Measures each variant against the reference in alternating slices, variant after variant,
 * round after round. A variant that fails is reported and left out of later rounds.
 */
export async function runAlternate(
  settings: AlternateSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<AlternateOutcome[]> {
  const [reference, ...variants] = settings.scenarios
  if (reference === undefined) return []
  // An A/A control first: limit against a second limit process, measured the same way. Its
  // spread is the method's noise floor on this machine today.
  const outcomes: AlternateOutcome[] = [reference, ...variants].map((scenario, i) => ({
    scenario,
    control: i === 0,
    pairs: [],
    failure: undefined,
    summary: undefined,
  }))
  for (let round = 1; round <= settings.rounds; round++) {
    for (const outcome of outcomes) {
      if (outcome.failure !== undefined) continue
      const name = outcome.control ? 'A/A limit' : outcome.scenario.name
      const before = outcome.pairs.length
      try {
        await measureVariant(reference, outcome, round, settings, load, services, pinning)
        const ratios = outcome.pairs.slice(before).map((pair) => pair.ratio)
        progress(
          `  round ${round}/${settings.rounds}  ${name.padEnd(24)} ×${median(ratios).toFixed(3)}  ` +
            `(${ratios.length} pairs, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
        )
      } catch (error) {
        const failure = recordFailure(outcome, outcome.scenario.name, name, round, settings.rounds, error)
        // A broken reference (or control) leaves nothing to compare against.
        if (outcome.control || failure.scenarioName === reference.name) {
          for (const other of outcomes) other.summary = summarize(other.pairs)
          return outcomes
        }
      }
    }
  }
  for (const outcome of outcomes) outcome.summary = summarize(outcome.pairs)
  return outcomes
}
