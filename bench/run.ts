/**
 * `pnpm bench`: measures every scenario of `scenarios/registry.ts` against the bare-route `limit`,
 * in this run, on this machine. See docs/benchmarks.md for the method and `--help` for options.
 */

import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { REFERENCE_SCENARIO, scenarios } from './scenarios/registry.js'
import { runAlternate } from './src/alternate-mode.js'
import { describeEnvironment, type Environment } from './src/environment.js'
import { chooseLoadTool, createLoadGenerator } from './src/load-generator.js'
import { type BenchOptions, resolveOptions, USAGE, UsageError } from './src/options.js'
import { runPaired } from './src/paired-mode.js'
import { findCommand, resolvePinning } from './src/processes.js'
import { alternateReport, environmentLine, pairedReport, throughputReport } from './src/report.js'
import type { ScenarioDefinition } from './src/scenario.js'
import { ServicePool } from './src/services.js'
import { startCheckedServer } from './src/start-server.js'
import { runThroughput } from './src/throughput-mode.js'

/** Bumped when the JSON layout changes incompatibly. */
const JSON_SCHEMA_VERSION = 1

function writeJson(file: string, options: BenchOptions, env: Environment, results: unknown): void {
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), file)
  mkdirSync(dirname(path), { recursive: true })
  const { scenarios: selected, ...rest } = options
  const document = {
    schemaVersion: JSON_SCHEMA_VERSION,
    mode: options.paired ? 'paired' : 'throughput',
    environment: env,
    options: { ...rest, scenarios: selected.map((scenario) => scenario.name) },
    results,
  }
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`)
  process.stderr.write(`results written to ${path}\n`)
}

async function main(): Promise<number> {
  let options: BenchOptions
  try {
    options = resolveOptions(process.argv.slice(2), scenarios, REFERENCE_SCENARIO)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`)
      return 2
    }
    throw error
  }
  if (options.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (options.list) {
    for (const scenario of scenarios) {
      const tags = [
        scenario.peerOf && `peers: ${scenario.peerOf}`,
        scenario.services?.length && `needs: ${scenario.services.join(', ')}`,
        scenario.requires && `needs: ${scenario.requires.command} on PATH`,
      ]
      process.stdout.write(
        `${scenario.name.padEnd(24)} ${scenario.description}${tags
          .filter(Boolean)
          .map((t) => ` [${t}]`)
          .join('')}\n`,
      )
    }
    return 0
  }

  // A scenario whose command is missing (nginx) is a reference point, not part of the suite: it is
  // skipped with a note instead of failing the run.
  const skipped = options.scenarios.filter(
    (scenario) => scenario.requires !== undefined && findCommand(scenario.requires.command) === undefined,
  )
  const skipNotes = skipped.map(
    (scenario) =>
      `skipped ${scenario.name}: ${scenario.requires?.command} is not on PATH (${scenario.requires?.install})`,
  )
  for (const note of skipNotes) process.stderr.write(`${note}\n`)

  if (options.check)
    return checkScenarios(options.scenarios.filter((scenario) => !skipped.includes(scenario)))

  const pinning = resolvePinning(options.pin)
  const tool = options.paired ? 'autocannon' : chooseLoadTool(options.load)
  const load = await createLoadGenerator(tool, pinning.loadCpu)
  const services = new ServicePool(pinning.loadCpu)
  const env = describeEnvironment(`${load.tool} ${load.version}`, pinning.note)
  const settings = {
    scenarios: options.scenarios.filter((scenario) => !skipped.includes(scenario)),
    rounds: options.rounds,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
  }
  process.stderr.write(`${environmentLine(env)}\n`)
  process.stderr.write(`scenarios: ${settings.scenarios.map((scenario) => scenario.name).join(', ')}\n`)

  /**
   * Prints the report and the skip notes, writes one JSON row per outcome (the fields every mode
   * has, then the mode's own from `extra`), and answers the exit code.
   */
  const finish = <O extends { scenario: ScenarioDefinition; failure: unknown; summary: unknown }>(
    report: string,
    outcomes: readonly O[],
    extra: (outcome: O) => object,
  ): number => {
    process.stdout.write(`\n${report}\n`)
    for (const note of skipNotes) process.stdout.write(`${note}\n`)
    if (options.jsonFile) {
      writeJson(
        options.jsonFile,
        options,
        env,
        outcomes.map((o) => ({
          scenario: o.scenario.name,
          ...extra(o),
          status: o.failure ? 'failed' : 'ok',
          failure: o.failure,
          median: o.summary,
        })),
      )
    }
    return outcomes.some((o) => o.failure) ? 1 : 0
  }
  try {
    if (options.paired) {
      const pairedSettings = { ...settings, rate: options.rate }
      const outcomes = await runPaired(pairedSettings, load, services, pinning)
      return finish(pairedReport(outcomes, pairedSettings, env), outcomes, (o) => ({
        control: o.control,
        rounds: o.rounds,
      }))
    }
    if (options.alternate) {
      const alternateSettings = { ...settings, slices: options.slices }
      const outcomes = await runAlternate(alternateSettings, load, services, pinning)
      return finish(alternateReport(outcomes, alternateSettings, env), outcomes, (o) => ({
        control: o.control,
        pairs: o.pairs,
      }))
    }
    const outcomes = await runThroughput(settings, load, services, pinning)
    return finish(throughputReport(outcomes, settings, env), outcomes, (o) => ({
      description: o.scenario.description,
      peerOf: o.scenario.peerOf,
      rounds: o.rounds,
    }))
  } finally {
    await load.close()
    await services.stopAll()
  }
}

/**
 * `--check`: starts each scenario's server (unpinned, services started as a run would), checks its
 * one response against the registry, stops it. Answers 1 when any failed.
 */
async function checkScenarios(selected: readonly ScenarioDefinition[]): Promise<number> {
  const services = new ServicePool()
  let failed = 0
  try {
    for (const scenario of selected) {
      try {
        const server = await startCheckedServer(scenario, services, undefined)
        await server.stop()
        process.stdout.write(`ok      ${scenario.name}\n`)
      } catch (error) {
        failed++
        process.stdout.write(
          `FAILED  ${scenario.name}: ${error instanceof Error ? error.message : String(error)}\n`,
        )
      }
    }
  } finally {
    await services.stopAll()
  }
  return failed > 0 ? 1 : 0
}

// Ctrl-C: exit through process.exit so the child processes are killed by PID (see processes.ts).
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  },
)
