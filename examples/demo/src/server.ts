// Starts the demo catalog on a printed URL: `pnpm demo` from the repository root.
// SIGINT, SIGTERM and SIGHUP close the server (in-flight requests finish) and exit with code 0.
//   PORT          port to listen on; a free one is picked when unset
//   HOST          address to bind; default 127.0.0.1 (loopback only)
//   DB_LATENCY_MS simulated database latency per query, in ms; default 50
//   LOG_LEVEL     pino level; default info (one line per request needs `debug`)
import { buildDemo } from './app.js'

/** How long a shutdown may take before the process gives up and exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number >= 0, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return value
}

const port = intFromEnv('PORT', 0)
const host = process.env.HOST || '127.0.0.1'
const dbLatencyMs = intFromEnv('DB_LATENCY_MS', 50)

const app = await buildDemo({ dbLatencyMs, logger: { level: process.env.LOG_LEVEL || 'info' } })

/**
 * A signal within this long of the first one is the same request to stop, not a second one:
 * Ctrl-C in a terminal reaches the whole foreground job at once, and `pnpm` passes the SIGINT it
 * got on to this process as well, so one Ctrl-C arrives here twice.
 */
const REPEAT_WINDOW_MS = 1_000

let closingSince: number | undefined
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closingSince !== undefined) {
    if (performance.now() - closingSince < REPEAT_WINDOW_MS) return
    // A later signal means "now": do not wait for the first shutdown to finish.
    console.error(`Demo: ${signal} again, exiting without waiting for the shutdown`)
    process.exit(130)
  }
  closingSince = performance.now()
  app.log.info({ signal }, 'shutting down')
  // unref: the timer must not be what keeps the process alive once close() is done.
  setTimeout(() => {
    console.error(`Demo did not close within ${SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`)
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS).unref()
  try {
    await app.close()
    // Exit 0: stopping the demo on purpose is a success (`pnpm` then prints no ELIFECYCLE).
    process.exit(0)
  } catch (err) {
    console.error('Demo failed to close cleanly:', err)
    process.exit(1)
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown)

try {
  await app.listen({ port, host })
} catch (err) {
  console.error(`Demo could not listen on ${host}:${port}:`, err instanceof Error ? err.message : err)
  process.exit(1)
}

const address = app.server.address()
const actualPort = typeof address === 'object' && address !== null ? address.port : port
// A wildcard bind (0.0.0.0, ::) is not an address one can browse to; print loopback.
const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
const base = `http://${shownHost}:${actualPort}`

// Plain console output on purpose: this is the line a newcomer reads (and the demo
// test parses), so it must not be buried in JSON logs.
console.log(`Demo listening on ${base} — open it in a browser, or: curl -i --compressed ${base}/products`)
console.log(
  [
    `  ${base}/                    the demo page: links, live cache hit ratios, the catalog`,
    `  ${base}/products            the catalog (route cache: Cache-Status, Age; compressed)`,
    `  ${base}/products/1          one product (data cache: run it twice, x-demo-source says cache)`,
    `  ${base}/metrics             Prometheus metrics`,
    `  curl -X POST ${base}/admin/invalidate   drop the cached products`,
    'Press Ctrl-C to stop.',
  ].join('\n'),
)
