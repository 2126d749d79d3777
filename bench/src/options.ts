/**
 * Command-line options of `pnpm bench`, parsed and validated once into a frozen object.
 */

import { parseArgs } from 'node:util'
import type { LoadToolName } from './load-generator.js'
import type { ScenarioDefinition } from './scenario.js'

export interface BenchOptions {
  /** Seconds of each measurement window. */
  readonly durationSeconds: number
  /** Seconds of load before each window, not measured (JIT, caches, connection setup). */
  readonly warmupSeconds: number
  readonly connections: number
  readonly rounds: number
  /** Scenarios to measure, registry order, the reference first. */
  readonly scenarios: readonly ScenarioDefinition[]
  readonly load: 'auto' | LoadToolName
  /** Fixed-rate paired CPU mode instead of the throughput mode. */
  readonly paired: boolean
  /** Throughput in alternating slices against `limit` instead of whole windows per scenario. */
  readonly alternate: boolean
  /** Pairs of slices per variant and round in `--alternate` mode. */
  readonly slices: number
  /** Requests per second sent to each server of a pair in `--paired` mode. */
  readonly rate: number
  /** Where to write machine-readable results, if anywhere. */
  readonly jsonFile: string | undefined
  readonly pin: boolean
  /** Start each selected scenario, check its one response, stop it: no load, nothing measured. */
  readonly check: boolean
  readonly list: boolean
  readonly help: boolean
}

export const USAGE = `Usage: pnpm bench [options]

Throughput mode (default): each scenario's server in its own process on CPU 0, the load generator
on CPU 1, scenarios interleaved round after round; medians and ratios to "limit" from this run.

  --duration <s>      seconds measured per scenario and round         (default 5; 1 with --alternate)
  --warmup <s>        seconds of unmeasured load before each window   (default 1)
  --connections <n>   concurrent connections                          (default 100)
  --rounds <n>        interleaved rounds A B C A B C ...              (default 3; 4 with --paired)
  --only <a,b>        only these scenarios ("limit" is always added)
  --load <tool>       auto | wrk | autocannon; auto = wrk when on PATH (default auto)
  --paired            fixed-rate paired CPU mode: "limit" and each scenario at the same rate,
                      both servers on CPU 0 at once, plus an A/A control (limit vs limit)
  --rate <req/s>      per-server rate in --paired mode                (default 5000)
  --alternate         throughput in alternating slices: "limit" and each scenario both started,
                      saturated in turn for --duration seconds (limit, scenario, scenario, limit,
                      ...), a ratio per neighbouring pair of slices, the median of those; for ratios
                      within ~10 %, where the VM's slow episodes decide whole 5-second windows
  --slices <n>        pairs of slices per scenario and round with --alternate (default 10)
  --json <file>       also write machine-readable results
  --no-pin            do not pin processes to CPUs with taskset
  --check             start each selected scenario (and its services), check its response as a
                      run would, stop it: a smoke test of new scenarios, no load, no figures
  --list              list the scenarios and exit
  --help              this text
`

/** A bad command line: the message is for the user, printed with the usage text. */
export class UsageError extends Error {
  override name = 'UsageError'
}

function positiveNumber(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`)
  }
  return value
}

/**
 * Parses `argv` (without node and script) against the scenario registry. Pure: no I/O.
 * @throws {UsageError} on an unknown flag, a bad value or an unknown scenario name.
 */
export function resolveOptions(
  argv: readonly string[],
  registry: readonly ScenarioDefinition[],
  referenceName: string,
): BenchOptions {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const { values } = parsed

  const load = values.load ?? 'auto'
  if (load !== 'auto' && load !== 'wrk' && load !== 'autocannon') {
    throw new UsageError(`--load must be auto, wrk or autocannon, got "${load}"`)
  }
  const paired = values.paired ?? false
  const alternate = values.alternate ?? false
  if (paired && alternate)
    throw new UsageError('--paired and --alternate are two different modes: choose one')
  if (paired && load === 'wrk') {
    throw new UsageError('--paired needs a fixed request rate, which wrk cannot hold: use --load autocannon')
  }

  const reference = registry.find((scenario) => scenario.name === referenceName)
  if (reference === undefined) throw new Error(`the registry has no "${referenceName}" scenario`)
  let selected: readonly ScenarioDefinition[]
  if (values.only === undefined) {
    // --paired skips scenarios that cannot hold the fixed rate unless asked for by name.
    selected = registry.filter((scenario) => !paired || scenario.paired !== false)
  } else {
    const names = values.only
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)
    const unknown = names.filter((name) => !registry.some((scenario) => scenario.name === name))
    if (unknown.length > 0) {
      throw new UsageError(
        `unknown scenario(s): ${unknown.join(', ')}; known: ${registry.map((scenario) => scenario.name).join(', ')}`,
      )
    }
    selected = registry.filter((scenario) => scenario.name === referenceName || names.includes(scenario.name))
  }
  // The reference first: every ratio divides by it, and it is measured first in every round.
  selected = [reference, ...selected.filter((scenario) => scenario !== reference)]

  return Object.freeze({
    durationSeconds: positiveNumber('duration', values.duration, alternate ? 1 : 5, false),
    warmupSeconds: values.warmup === '0' ? 0 : positiveNumber('warmup', values.warmup, 1, false),
    connections: positiveNumber('connections', values.connections, 100, true),
    // Paired mode swaps the order of the pair every round, so an even count balances it.
    rounds: positiveNumber('rounds', values.rounds, paired ? 4 : 3, true),
    scenarios: Object.freeze(selected),
    load,
    paired,
    alternate,
    slices: positiveNumber('slices', values.slices, 10, true),
    rate: positiveNumber('rate', values.rate, 5000, true),
    jsonFile: values.json,
    pin: !(values['no-pin'] ?? false),
    check: values.check ?? false,
    list: values.list ?? false,
    help: values.help ?? false,
  })
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      load: { type: 'string' },
      paired: { type: 'boolean' },
      alternate: { type: 'boolean' },
      slices: { type: 'string' },
      rate: { type: 'string' },
      json: { type: 'string' },
      'no-pin': { type: 'boolean' },
      check: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
