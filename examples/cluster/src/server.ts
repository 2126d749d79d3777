// One instance of the catalog in this process: the "one process per core behind nginx" layout
// (the integration tests run two of these behind nginx). `src/main.ts` is the node:cluster one.
//   PORT          port to listen on; 0 (default) picks a free one
//   HOST          address to bind; default 127.0.0.1
//   REDIS_URL     the shared Redis; default redis://127.0.0.1:6379
//   INSTANCE      name sent in x-instance; default `instance-<pid>`
//   DB_LATENCY_MS simulated database latency, ms; default 50
// Prints one line `listening on http://host:port` once it accepts connections.
import { intFromEnv, runInstance } from './instance.js'

const instance = process.env.INSTANCE || `instance-${process.pid}`
const app = await runInstance({
  instance,
  port: intFromEnv('PORT', 0),
  host: process.env.HOST || '127.0.0.1',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  dbLatencyMs: intFromEnv('DB_LATENCY_MS', 50),
  metrics: 'route',
})
const address = app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0
console.log(`${instance} listening on http://127.0.0.1:${port}`)
