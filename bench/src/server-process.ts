/**
 * Entry point of a scenario's server process (spawned by `server-handle.ts`, pinned to its own
 * core). Loads the scenario module, listens on a free loopback port, then answers CPU samples over
 * IPC: the harness samples before and after a measurement window and divides by the requests the
 * load generator completed, which gives the server's CPU per request without a hook in the
 * measured route.
 *
 * argv: <scenario module URL> <services JSON>
 */

import type { FastifyInstance } from 'fastify'
import type { FromServerMessage, ToServerMessage } from './protocol.js'
import type { ScenarioContext, ScenarioModule } from './scenario.js'

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
  const scenario = (await import(moduleUrl)) as Partial<ScenarioModule>
  if (typeof scenario.createServer !== 'function') {
    throw new Error(`${moduleUrl} does not export createServer()`)
  }
  const app: FastifyInstance = await scenario.createServer(context)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected server address')

  process.on('message', async function onHarnessMessage(message: ToServerMessage) {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage()
      send({
        type: 'cpu',
        id: message.id,
        userUs: user,
        systemUs: system,
        rssBytes: process.memoryUsage.rss(),
      })
    } else if (message.type === 'stop') {
      await app.close()
      process.exit(0)
    }
  })
  // If the harness dies, do not linger as an orphan holding a port and a core.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready', port: address.port })
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  // Exit once the message is flushed, so the harness gets the reason rather than a bare exit code.
  if (process.send)
    process.send({ type: 'error', message } satisfies FromServerMessage, () => process.exit(1))
  else process.exit(1)
})
