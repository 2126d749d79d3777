// `pnpm conformance`: the public HTTP caching test suite (cache-tests.fyi) through
// examples/caching-proxy on the memory store, Redis, Memcached and Redis answering 20 ms late,
// counted as the website counts it, next to the published results of other caches (read from the
// suite's copy, not kept in this repository).
//
//   pnpm conformance [--stores memory,redis,memcached,late-redis] [--failures] [--id <test-id>]
//
// --failures lists every test not passed; --id runs one test and prints its exchange.
//
// REDIS_URL / MEMCACHED_SERVERS: servers to use; otherwise private ones are started (redis-server
// and memcached must be installed: apt-get install -y redis-server memcached).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type ServiceHandle, startMemcached, startRedis } from '@fastify-perf/test-helpers'
import {
  type Defer,
  lateRedis,
  memcached,
  memory,
  openStore,
  redis,
  type StoreSetup,
  storeLabel,
} from '../support/stores.js'
import { loadCounter, type Results, runConformance, suiteDir, type Tally } from './suite.js'

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'memory,redis,memcached,late-redis' },
    failures: { type: 'boolean', default: false },
    id: { type: 'string' },
  },
})
const SETUPS: Record<string, StoreSetup> = { memory, redis, memcached, 'late-redis': lateRedis }
const wanted = values.stores.split(',').map((name) => {
  const setup = SETUPS[name.trim()]
  if (setup === undefined) throw new Error(`unknown store ${name}; one of ${Object.keys(SETUPS).join(', ')}`)
  return setup
})

const services: ServiceHandle[] = []
if (wanted.some((setup) => setup.name === 'redis') && !process.env.REDIS_URL) {
  const server = await startRedis()
  services.push(server)
  process.env.REDIS_URL = server.url
}
if (wanted.some((setup) => setup.name === 'memcached') && !process.env.MEMCACHED_SERVERS) {
  const server = await startMemcached()
  services.push(server)
  process.env.MEMCACHED_SERVERS = server.url
}

const rows: Array<{ name: string; tally: Tally }> = []
try {
  for (const setup of wanted) {
    const closes: Array<() => unknown> = []
    const defer: Defer = (close) => closes.push(close)
    try {
      const { store } = await openStore(setup, defer)
      const started = Date.now()
      // The proxy's defaults, storeTimeout included (250 ms: above three round trips to a store 20 ms late).
      const { tally, results } = await runConformance({
        store,
        ...(values.id === undefined ? {} : { only: values.id, log: (text: string) => console.log(text) }),
      })
      if (values.id !== undefined) {
        console.log(`${storeLabel(setup)}: ${values.id} ${JSON.stringify(results[values.id])}`)
        continue
      }
      const name = `fastify-perf (${storeLabel(setup)})`
      rows.push({ name, tally })
      console.error(`${name}: ${((Date.now() - started) / 1000).toFixed(0)} s`)
      if (values.failures) {
        console.log(`\n${name}, required not passed:\n  ${tally.required.failed.join('\n  ')}`)
        console.log(`${name}, optimal not passed:\n  ${tally.optimal.failed.join('\n  ')}`)
      }
    } finally {
      for (const close of closes.reverse()) await close()
    }
  }
} finally {
  for (const service of services) await service.stop()
}

// The published results of other shared caches, counted the same way.
const dir = suiteDir()
const counter = await loadCounter(dir)
const published = (await import(pathToFileURL(join(dir, 'results', 'index.mjs')).href)).default as Array<{
  file: string
  name: string
  type: string
  version: string
}>
const others = published
  .filter((entry) => entry.type !== 'browser')
  .map((entry) => ({
    name: `${entry.name} ${entry.version}`,
    tally: counter.tally(JSON.parse(readFileSync(join(dir, 'results', entry.file), 'utf8')) as Results),
  }))
  .sort((a, b) => b.tally.required.passed - a.tally.required.passed)

console.log('\n| cache | required | optimal |\n| --- | --- | --- |')
for (const { name, tally } of [...rows, ...others]) {
  console.log(
    `| ${name} | ${tally.required.passed} / ${tally.required.total} | ${tally.optimal.passed} / ${tally.optimal.total} |`,
  )
}
