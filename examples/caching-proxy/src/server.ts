// Starts the caching proxy and prints its URL.
//   UPSTREAM   the origin, e.g. http://127.0.0.1:3000 (required)
//   PORT       port to listen on; a free one is picked when unset
//   HOST       address to bind; default 127.0.0.1 (loopback only)
//   MAX_SIZE   bound of the memory store, e.g. 256MB; default 64MB
//   STRICT     1 to honour request Cache-Control directives (max-age, max-stale, only-if-cached, ...)
//   LOG_LEVEL  pino level; default info
import type { Size } from '@fastify-perf/cache'
import { buildProxy } from './proxy.js'

/** How long a shutdown may take before the process gives up and exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000

function fail(message: string): never {
  console.error(message)
  process.exit(1)
}

const upstream = process.env.UPSTREAM
if (upstream === undefined || upstream === '') {
  fail('UPSTREAM is required, e.g. UPSTREAM=http://127.0.0.1:3000')
}
const rawPort = process.env.PORT || '0'
const port = Number(rawPort)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, got ${rawPort}`)
const host = process.env.HOST || '127.0.0.1'

let app: Awaited<ReturnType<typeof buildProxy>>
try {
  app = await buildProxy({
    upstream,
    ...(process.env.MAX_SIZE ? { maxSize: process.env.MAX_SIZE as Size } : {}),
    cache: { strict: process.env.STRICT === '1' },
    logger: { level: process.env.LOG_LEVEL || 'info' },
  })
} catch (err) {
  fail(`Could not build the proxy: ${err instanceof Error ? err.message : String(err)}`)
}

let closing = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  // A second Ctrl-C means "now".
  if (closing) process.exit(130)
  closing = true
  app.log.info({ signal }, 'shutting down')
  setTimeout(() => {
    console.error(`The proxy did not close within ${SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`)
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS).unref()
  try {
    await app.close()
    process.exit(0)
  } catch (err) {
    console.error('The proxy failed to close cleanly:', err)
    process.exit(1)
  }
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)

try {
  await app.listen({ port, host })
} catch (err) {
  fail(`The proxy could not listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`)
}

const address = app.server.address()
const actualPort = typeof address === 'object' && address !== null ? address.port : port
// A wildcard bind (0.0.0.0, ::) is not an address one can browse to; print loopback.
const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
// Plain console output: the line a reader (and the example's test) looks for.
console.log(`Caching proxy listening on http://${shownHost}:${actualPort} -> ${upstream}`)
