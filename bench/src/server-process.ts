/**
 * Entry point of a scenario's server process (spawned by `server-handle.ts`, pinned to its own
 * core). Loads the scenario module, listens on a free loopback port, then answers CPU samples over
 * IPC: the harness samples before and after a measurement window and divides by the requests the
 * load generator completed, which gives the server's CPU per request without a hook in the
 * measured route.
 *
 * argv: <scenario module URL> <services JSON>
 */

import type { FromServerMessage, ToServerMessage } from './protocol.js'
import type { ExternalServer, ScenarioContext, ScenarioModule } from './scenario.js'

function send(message: FromServerMessage): void {
  process.send?.(message)
}

async function main(): Promise<void> {
  const [moduleUrl, servicesJson = '{}'] = process.argv.slice(2)
  if (moduleUrl === undefined || process.send === undefined) {
    throw new Error(
      'server-process.ts is started by the bench harness (argv: module URL, services JSON; IPC)',
    )
  }
  const context: ScenarioContext = { services: JSON.parse(servicesJson) }
  const scenario = (await import(moduleUrl)) as ScenarioModule
  const server = await startScenario(scenario, context, moduleUrl)

  process.on('message', async function onHarnessMessage(message: ToServerMessage) {
    if (message.type === 'cpu') {
      const { user, system } = server.cpuUsage()
      send({
        type: 'cpu',
        id: message.id,
        userUs: user,
        systemUs: system,
        rssBytes: server.rssBytes(),
      })
    } else if (message.type === 'stop') {
      await server.close()
      process.exit(0)
    }
  })
  // If the harness dies, do not linger as an orphan holding a port and a core.
  process.on('disconnect', async () => {
    await server.close()
    process.exit(0)
  })
  send({ type: 'ready', port: server.port })
}

/**
 * A Fastify scenario listens in this process and is measured here; an external one (nginx) runs
 * in processes of its own, which it measures itself.
 */
async function startScenario(
  scenario: ScenarioModule,
  context: ScenarioContext,
  moduleUrl: string,
): Promise<ExternalServer> {
  if (typeof scenario.startServer === 'function') return scenario.startServer(context)
  if (typeof scenario.createServer !== 'function') {
    throw new Error(`${moduleUrl} exports neither createServer() nor startServer()`)
  }
  const app = await scenario.createServer(context)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected server address')
  return {
    port: address.port,
    cpuUsage: () => process.cpuUsage(),
    rssBytes: () => process.memoryUsage.rss(),
    close: () => app.close(),
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  // Exit once the message is flushed, so the harness gets the reason rather than a bare exit code.
  if (process.send)
    process.send({ type: 'error', message } satisfies FromServerMessage, () => process.exit(1))
  else process.exit(1)
})
