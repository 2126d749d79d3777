/**
 * Starting a scenario's server for a measurement, with every way it can go wrong turned into a
 * {@link ScenarioFailure}: its services, its process, its first response, its warm-up.
 */

import { checkResponse } from './check-response.js'
import type { LoadGenerator } from './load-generator.js'
import { assertCleanRun, loadJob, ScenarioFailure } from './measure.js'
import type { ScenarioDefinition } from './scenario.js'
import { ServerHandle } from './server-handle.js'
import type { ServicePool } from './services.js'

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Starts the server and checks its response; the caller stops it. */
export async function startCheckedServer(
  scenario: ScenarioDefinition,
  services: ServicePool,
  cpu: number | undefined,
): Promise<ServerHandle> {
  let server: ServerHandle
  try {
    const endpoints = await services.acquire(scenario.services ?? [])
    server = await ServerHandle.start(scenario, endpoints, cpu)
  } catch (error) {
    throw new ScenarioFailure(scenario.name, 'start', messageOf(error), { cause: error })
  }
  try {
    await checkResponse(scenario, server.url)
  } catch (error) {
    await server.stop()
    throw new ScenarioFailure(scenario.name, 'check', messageOf(error), { cause: error })
  }
  return server
}

/** Unmeasured load on all servers at once; fails like a measured run would. */
export async function warmUp(
  servers: readonly ServerHandle[],
  load: LoadGenerator,
  settings: { connections: number; durationSeconds: number; rate?: number },
): Promise<void> {
  if (settings.durationSeconds <= 0) return
  const run = await load.run(servers.map((server) => loadJob(server, settings)))
  servers.forEach((server, i) => {
    assertCleanRun(server, run.results[i]!, 'warm-up')
  })
}

/** Stops servers, ignoring those already gone. */
export async function stopAll(servers: readonly (ServerHandle | undefined)[]): Promise<void> {
  await Promise.all(servers.map((server) => server?.stop()))
}
