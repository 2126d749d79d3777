/**
 * One measurement window, shared by both modes: sample the CPU counters of the servers, run the
 * load (one job per server, concurrently), sample again. The server's CPU per request is the CPU
 * delta divided by the responses the load generator completed in the window.
 */

import type { LoadGenerator } from './load-generator.js'
import { readBusySeconds } from './machine-load.js'
import type { LoadJob, LoadResult } from './protocol.js'
import type { ServerHandle } from './server-handle.js'

/** What one server did during one window. */
export interface WindowResult {
  readonly load: LoadResult
  /** Server CPU (user + system) in microseconds per completed response. */
  readonly cpuUsPerRequest: number
  /** Server CPU over the window as a share of one core (0..1). */
  readonly serverCpuShare: number
  /** Server resident memory at the end of the window, in bytes. */
  readonly rssBytes: number
}

/** A failure tied to a phase, so the report can say where a scenario broke. */
export class ScenarioFailure extends Error {
  override name = 'ScenarioFailure'
  readonly phase: 'start' | 'check' | 'warm-up' | 'load'
  /** The scenario that failed (in a pair, tells the baseline from the variant). */
  readonly scenarioName: string

  constructor(
    scenarioName: string,
    phase: ScenarioFailure['phase'],
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.scenarioName = scenarioName
    this.phase = phase
  }
}

/** Progress lines go to stderr, results to stdout. */
export function progress(text: string): void {
  process.stderr.write(`${text}\n`)
}

/** A failure as an outcome keeps it: the round it happened in, its phase and message. */
export interface RecordedFailure {
  readonly round: number
  readonly phase: ScenarioFailure['phase']
  readonly message: string
}

/**
 * Records `error` as `outcome`'s failure in `round` (a {@link ScenarioFailure}, or any other error
 * as a load-phase failure of `scenarioName`) and prints its first line under `label`. Answers the
 * failure, whose `scenarioName` tells a broken reference from a broken variant.
 */
export function recordFailure(
  outcome: { failure: RecordedFailure | undefined },
  scenarioName: string,
  label: string,
  round: number,
  rounds: number,
  error: unknown,
): ScenarioFailure {
  const failure =
    error instanceof ScenarioFailure
      ? error
      : new ScenarioFailure(scenarioName, 'load', error instanceof Error ? error.message : String(error))
  outcome.failure = { round, phase: failure.phase, message: failure.message }
  progress(
    `  round ${round}/${rounds}  ${label.padEnd(24)} FAILED (${failure.phase}): ${failure.message.split('\n')[0]}`,
  )
  return failure
}

/** Throws when the load run saw non-2xx responses or socket errors: such a run measures nothing. */
export function assertCleanRun(server: ServerHandle, result: LoadResult, phase: 'warm-up' | 'load'): void {
  // A crash shows up as a storm of socket errors: name the cause, not the symptom.
  if (!server.alive) {
    throw new ScenarioFailure(server.scenario.name, phase, 'the server process died during the load run')
  }
  if (result.non2xx > 0 || result.errors > 0) {
    throw new ScenarioFailure(
      server.scenario.name,
      phase,
      `${result.non2xx} non-2xx responses and ${result.errors} socket errors (${result.timeouts} timeouts) ` +
        `out of ${result.requests} during the ${phase} run`,
    )
  }
}

/** Runs `jobs[i]` against `servers[i]` for one window, all at once. */
export async function measureWindow(
  servers: readonly ServerHandle[],
  jobs: readonly LoadJob[],
  load: LoadGenerator,
): Promise<{ results: WindowResult[]; loadCpuShare: number | undefined; otherCpuShare: number | undefined }> {
  const before = await Promise.all(servers.map((server) => server.sampleCpu()))
  const busyBefore = readBusySeconds()
  const harnessBefore = process.cpuUsage()
  const started = performance.now()
  const run = await load.run(jobs)
  const after = await Promise.all(servers.map((server) => server.sampleCpu()))
  const wallMs = performance.now() - started
  const busyAfter = readBusySeconds()
  const harness = process.cpuUsage(harnessBefore)
  const results = servers.map((server, i) => {
    const result = run.results[i]!
    assertCleanRun(server, result, 'load')
    const cpuUs = after[i]!.userUs + after[i]!.systemUs - (before[i]!.userUs + before[i]!.systemUs)
    return {
      load: result,
      cpuUsPerRequest: result.requests === 0 ? Number.NaN : cpuUs / result.requests,
      serverCpuShare: cpuUs / 1000 / wallMs,
      rssBytes: after[i]!.rssBytes,
    }
  })
  // Everything busy on the machine minus the servers, the load generator and this process.
  let otherCpuShare: number | undefined
  if (busyBefore !== undefined && busyAfter !== undefined && run.cpuShare !== undefined) {
    const oursMs =
      results.reduce((sum, result) => sum + result.serverCpuShare * wallMs, 0) +
      run.cpuShare * wallMs +
      (harness.user + harness.system) / 1000
    otherCpuShare = Math.max(0, ((busyAfter - busyBefore) * 1000 - oursMs) / wallMs)
  }
  return { results, loadCpuShare: run.cpuShare, otherCpuShare }
}

/** The load job for a server, from the scenario's request and the run's settings. */
export function loadJob(
  server: ServerHandle,
  settings: { connections: number; durationSeconds: number; rate?: number },
): LoadJob {
  return {
    url: server.url,
    connections: settings.connections,
    durationSeconds: settings.durationSeconds,
    headers: server.scenario.request?.headers ?? {},
    ...(settings.rate === undefined ? {} : { rate: settings.rate }),
  }
}
