import type { TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'

/**
 * A fresh Fastify instance for one test, closed in `t.after()` whatever the test's outcome.
 * The logger is off unless `opts.logger` says otherwise, so test output stays readable.
 *
 * @example
 * const app = buildApp(t)
 * app.get('/', async () => 'ok')
 * const res = await app.inject('/')
 */
export function buildApp(t: TestContext, opts: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, ...opts })
  t.after(() => app.close())
  return app
}

/**
 * Listen on a free loopback port and return the base URL (`http://127.0.0.1:P`), for tests
 * where headers on the wire, streaming or timing matter. Closing stays with `buildApp`.
 */
export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ host: '127.0.0.1', port: 0 })
}
