/**
 * `pnpm bench:remote-overhead`: what `getOrSet` adds to one remote read, without HTTP and without
 * joined reads. The `redis-hit` and `memcached-hit` scenarios ask 100 connections for ONE key, so
 * concurrent requests join one store read and the engine beats the raw client; this measures the
 * other case, every caller on a key of its own, so each call is one round trip of its own.
 *
 * For each variant a fresh process (pinned to CPU 0 when `taskset` exists; the servers run on
 * CPU 1) runs 100 concurrent loops, each reading its own key, and reports the CPU time per read
 * (user + system, `process.cpuUsage()`), median of 3 measured passes of 200,000 reads after a
 * warm-up. Variants alternate for `--runs` rounds (default 3); `--only redis` or `--only memcached`
 * runs that store's pair only. A hit variant whose reads were not all store hits (a store timeout on
 * a busy machine, then answers from the factory) fails instead of reporting a flattering figure. The variants:
 *
 *   redis-raw      ioredis `get` (the client settings RedisStore uses)
 *   redis-hit      getOrSet on RedisStore, no L1
 *   memcached-raw  memjs `get` + `toString()` (the client settings MemcachedStore uses)
 *   memcached-hit  getOrSet on MemcachedStore
 *
 * Redis and memcached are private servers from @fastify-perf/test-helpers (REDIS_URL and
 * MEMCACHED_SERVERS are ignored: the numbers need servers nothing else uses).
 */

import { execFileSync, spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createCache } from '@fastify-perf/cache'
import { MemcachedStore } from '@fastify-perf/cache-memcached'
import { RedisStore } from '@fastify-perf/cache-redis'
import { startMemcached, startRedis } from '@fastify-perf/test-helpers'
import { connectMemcached, connectRedis } from '../scenarios/remote-clients.js'

const VARIANTS = ['redis-raw', 'redis-hit', 'memcached-raw', 'memcached-hit'] as const
type Variant = (typeof VARIANTS)[number]
const CONCURRENCY = 100
const READS = 200_000
const PAYLOAD = JSON.stringify({ description: 'x'.repeat(2000) })

/** One variant in this process: prints the median CPU µs per read as JSON on stdout. */
async function child(variant: Variant, redisUrl: string, memcachedServers: string): Promise<void> {
  let read: (i: number) => Promise<unknown>
  let close: () => Promise<void> | void
  // Reads of a hit variant that were not store hits (a miss, a store error or a skipped call).
  let notHits = () => 0
  const factory = async () => PAYLOAD
  if (variant === 'redis-raw') {
    const client = await connectRedis(redisUrl)
    for (let i = 0; i < CONCURRENCY; i++) await client.set(`raw:${i}`, PAYLOAD)
    read = (i) => client.get(`raw:${i}`)
    close = () => void client.disconnect()
  } else if (variant === 'memcached-raw') {
    const client = connectMemcached(memcachedServers)
    for (let i = 0; i < CONCURRENCY; i++) await client.set(`raw:${i}`, PAYLOAD, { expires: 600 })
    read = async (i) => (await client.get(`raw:${i}`)).value?.toString()
    close = () => client.close()
  } else {
    const store =
      variant === 'redis-hit'
        ? new RedisStore({ url: redisUrl, prefix: 'micro:' })
        : new MemcachedStore({ servers: memcachedServers, prefix: 'micro:' })
    if (store instanceof RedisStore) await store.ready()
    // A generous store budget: on a busy machine (other processes on CPU 0) a 50 ms budget can
    // run out, the breaker opens and getOrSet answers from the factory without a store read, which
    // is cheaper and would pass for a fast hit. Such runs are refused below, by the miss count.
    const cache = createCache({ store, storeTimeout: '2s' })
    for (let i = 0; i < CONCURRENCY; i++) await cache.getOrSet(`product:${i}`, factory, { ttl: '10m' })
    read = (i) => cache.getOrSet(`product:${i}`, factory, { ttl: '10m' })
    const warm = cache.stats()
    notHits = () => {
      const { misses, store: s } = cache.stats()
      return misses - warm.misses + s.errors - warm.store.errors + s.skipped - warm.store.skipped
    }
    close = async () => {
      await cache.close()
      await store.close()
    }
  }
  const pass = async (reads: number) => {
    let left = reads
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, i) => {
        while (left-- > 0) {
          const value = await read(i)
          if (value !== PAYLOAD) throw new Error(`${variant}: read ${String(value).slice(0, 40)}`)
        }
      }),
    )
  }
  await pass(READS / 10)
  const perRead: number[] = []
  for (let i = 0; i < 3; i++) {
    const before = process.cpuUsage()
    await pass(READS)
    const used = process.cpuUsage(before)
    perRead.push((used.user + used.system) / READS)
  }
  const failed = notHits()
  await close()
  if (failed > 0) {
    throw new Error(`${variant}: ${failed} reads were not store hits (store too slow for this machine now)`)
  }
  perRead.sort((a, b) => a - b)
  process.stdout.write(`${JSON.stringify({ variant, cpuUsPerRead: perRead[1] })}\n`)
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs')
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3
  // `--only redis` or `--only memcached`: that store's two variants only.
  const onlyArg = process.argv.indexOf('--only')
  const only = onlyArg > 0 ? process.argv[onlyArg + 1]! : undefined
  if (only !== undefined && only !== 'redis' && only !== 'memcached') {
    throw new Error(`--only takes redis or memcached, got ${only}`)
  }
  const variants = VARIANTS.filter((variant) => only === undefined || variant.startsWith(`${only}-`))
  const redis = await startRedis()
  const memcached = await startMemcached()
  const pin = cpus().length >= 2 && spawnSync('sh', ['-c', 'command -v taskset']).status === 0
  if (pin) {
    for (const pid of [redis.pid, memcached.pid])
      execFileSync('taskset', ['-a', '-p', '-c', '1', String(pid)])
  }
  const results = new Map<Variant, number[]>(VARIANTS.map((variant) => [variant, []]))
  try {
    for (let run = 1; run <= runs; run++) {
      for (const variant of variants) {
        const node = [
          ...process.execArgv,
          fileURLToPath(import.meta.url),
          '--child',
          variant,
          redis.url,
          memcached.url,
        ]
        const out = execFileSync(
          pin ? 'taskset' : process.execPath,
          pin ? ['-c', '0', process.execPath, ...node] : node,
          {
            encoding: 'utf8',
          },
        )
        const { cpuUsPerRead } = JSON.parse(out.trim().split('\n').pop()!) as { cpuUsPerRead: number }
        results.get(variant)!.push(cpuUsPerRead)
        process.stderr.write(`run ${run}/${runs}  ${variant.padEnd(14)} ${cpuUsPerRead.toFixed(2)} µs/read\n`)
      }
    }
  } finally {
    await Promise.all([redis.stop(), memcached.stop()])
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const line = (hit: Variant, raw: Variant) => {
    if (!variants.includes(hit)) return ''
    const h = median(results.get(hit)!)
    const r = median(results.get(raw)!)
    const each = (variant: Variant) =>
      results
        .get(variant)!
        .map((v) => v.toFixed(2))
        .join(' ')
    return `| ${hit} | ${r.toFixed(2)} (${each(raw)}) | ${h.toFixed(2)} (${each(hit)}) | +${(h - r).toFixed(2)} |\n`
  }
  process.stdout.write(
    `\nCPU µs per read, ${CONCURRENCY} concurrent callers on distinct keys (nothing joins), median of ${runs} runs\n\n` +
      '| variant | raw client | getOrSet | added by the engine |\n| --- | ---: | ---: | ---: |\n' +
      line('redis-hit', 'redis-raw') +
      line('memcached-hit', 'memcached-raw'),
  )
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Variant, process.argv[4]!, process.argv[5]!)
  process.exit(0)
} else {
  await main()
}
