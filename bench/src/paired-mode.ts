/**
 * Paired fixed-rate CPU mode, for overheads too small for throughput runs (under ~20 %, inside
 * the VM's drift). The baseline (`limit`) and a variant run AT THE SAME TIME, both servers pinned
 * to the same core, each receiving the same fixed request rate from the load generator on the
 * other core. Whatever the VM does during the window (frequency, steal, noisy neighbours), both
 * servers live through it together, so the difference of their CPU per request is the variant's
 * own cost. An A/A pair (limit against a second limit process) measured the same way shows the
 * noise floor: a variant's extra cost means something only when it is well above it.
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

export interface PairedRound {
  readonly round: number
  readonly baseline: WindowResult
  readonly variant: WindowResult
  /** variant − baseline, µs of server CPU per request. */
  readonly extraUsPerRequest: number
  readonly loadCpuShare: number | undefined
  /** CPU used by other processes on the machine during the window, in cores. */
  readonly otherCpuShare: number | undefined
}

export interface PairedSummary {
  readonly baselineUsPerRequest: number
  readonly variantUsPerRequest: number
  readonly extraUsPerRequest: number
  readonly extraRange: { min: number; max: number } | undefined
  /** Median of per-round extra / baseline. */
  readonly extraShare: number
  /** Median of per-round baseline / variant CPU: the throughput ratio this CPU cost implies at saturation. */
  readonly impliedRatio: number
  /** Lowest rate either server of the pair actually received, median over rounds. */
  readonly achievedRate: number
  /** CPU used by other processes during the windows, in cores, median. */
  readonly otherCpuShare: number
}

export interface PairedOutcome {
  /** The variant; for the A/A control, the reference itself. */
  readonly scenario: ScenarioDefinition
  readonly control: boolean
  readonly rounds: PairedRound[]
  failure: RecordedFailure | undefined
  summary: PairedSummary | undefined
}

export interface PairedSettings {
  readonly scenarios: readonly ScenarioDefinition[]
  readonly rounds: number
  readonly connections: number
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly rate: number
}

async function measurePair(
  baseline: ScenarioDefinition,
  variant: ScenarioDefinition,
  round: number,
  settings: PairedSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<PairedRound> {
  // Which server starts first and whose connections open first alternates between rounds: the
  // A/A control showed a steady offset of about half a microsecond in favour of the second one.
  const swapped = round % 2 === 0
  const order = swapped ? [variant, baseline] : [baseline, variant]
  const servers: (ServerHandle | undefined)[] = []
  try {
    // Both on the server core: the pair shares whatever that core goes through.
    for (const scenario of order)
      servers.push(await startCheckedServer(scenario, services, pinning.serverCpu))
    const pair = servers as ServerHandle[]
    const common = { connections: settings.connections, rate: settings.rate }
    await warmUp(pair, load, { ...common, durationSeconds: settings.warmupSeconds })
    const jobs = pair.map((server) =>
      loadJob(server, { ...common, durationSeconds: settings.durationSeconds }),
    )
    const { results, loadCpuShare, otherCpuShare } = await measureWindow(pair, jobs, load)
    const [first, second] = results as [WindowResult, WindowResult]
    const [base, other] = swapped ? [second, first] : [first, second]
    return {
      round,
      baseline: base,
      variant: other,
      extraUsPerRequest: other.cpuUsPerRequest - base.cpuUsPerRequest,
      loadCpuShare,
      otherCpuShare,
    }
  } finally {
    await stopAll(servers)
  }
}

function summarize(rounds: readonly PairedRound[]): PairedSummary | undefined {
  if (rounds.length === 0) return undefined
  const extras = rounds.map((r) => r.extraUsPerRequest)
  return {
    baselineUsPerRequest: median(rounds.map((r) => r.baseline.cpuUsPerRequest)),
    variantUsPerRequest: median(rounds.map((r) => r.variant.cpuUsPerRequest)),
    extraUsPerRequest: median(extras),
    extraRange: range(extras),
    extraShare: median(rounds.map((r) => r.extraUsPerRequest / r.baseline.cpuUsPerRequest)),
    impliedRatio: median(rounds.map((r) => r.baseline.cpuUsPerRequest / r.variant.cpuUsPerRequest)),
    achievedRate: median(
      rounds.map((r) => Math.min(r.baseline.load.requestsPerSecond, r.variant.load.requestsPerSecond)),
    ),
    otherCpuShare: median(rounds.map((r) => r.otherCpuShare ?? Number.NaN)),
  }
}

/**
 * Per round: the A/A control, then each variant paired with the reference. The first scenario of
 * `settings.scenarios` is the reference.
 */
export async function runPaired(
  settings: PairedSettings,
  load: LoadGenerator,
  services: ServicePool,
  pinning: Pinning,
): Promise<PairedOutcome[]> {
  const [reference, ...variants] = settings.scenarios
  if (reference === undefined) throw new Error('no reference scenario')
  const outcomes: PairedOutcome[] = [
    { scenario: reference, control: true, rounds: [], failure: undefined, summary: undefined },
    ...variants.map((scenario) => ({
      scenario,
      control: false,
      rounds: [],
      failure: undefined,
      summary: undefined,
    })),
  ]
  for (let round = 1; round <= settings.rounds; round++) {
    for (const outcome of outcomes) {
      if (outcome.failure !== undefined) continue
      const label = outcome.control ? `A/A ${reference.name}` : outcome.scenario.name
      try {
        const measured = await measurePair(
          reference,
          outcome.scenario,
          round,
          settings,
          load,
          services,
          pinning,
        )
        outcome.rounds.push(measured)
        progress(
          `  round ${round}/${settings.rounds}  ${label.padEnd(24)} ${measured.baseline.cpuUsPerRequest.toFixed(1)} → ` +
            `${measured.variant.cpuUsPerRequest.toFixed(1)} µs/req (${measured.extraUsPerRequest >= 0 ? '+' : ''}` +
            `${measured.extraUsPerRequest.toFixed(1)})`,
        )
      } catch (error) {
        const failure = recordFailure(outcome, outcome.scenario.name, label, round, settings.rounds, error)
        // A broken baseline (or control) leaves nothing to compare against.
        if (outcome.control || failure.scenarioName === reference.name) {
          for (const other of outcomes) other.summary = summarize(other.rounds)
          return outcomes
        }
      }
    }
  }
  for (const outcome of outcomes) outcome.summary = summarize(outcome.rounds)
  return outcomes
}
