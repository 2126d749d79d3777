// How much memory the route cache on the memory store really holds, against its maxSize.
//
//   node --expose-gc --import tsx --conditions=fastify-perf-source bench/micro/memory-held.ts \
//     [--urls 100000] [--max-size 64MB] [--body 1024] [--kind string|buffer|json] [--socket]
//     [--data] [--no-cache]
//
// Sends `urls` distinct URLs through a real Fastify app with the route cache on a MemoryStore
// (through inject, or a real socket with --socket), each answered with a distinct body of about
// `body` bytes; or, with --data, sets that many distinct keys in the data cache. Then reports
// what the process grew by after full collections (heap, array buffers, RSS) against what the
// store counts. --no-cache: the same load on an uncached route, as a control.
// MEMORY_HELD_SNAPSHOT=<file> also writes a heap snapshot at the end.
// Prefer --socket for the route cache: after many concurrent inject() calls, light-my-request
// keeps requests alive for a while and the heap figure is mostly theirs.
// test/integration/route-memory.test.ts runs the route scenario as a test; docs/caching.md,
// "Memory and size limits", quotes the figures.
import { parseArgs } from 'node:util'
import fastifyPerfCache, { MemoryStore, type Size } from '@fastify-perf/cache'
import Fastify from 'fastify'

const { values } = parseArgs({
  options: {
    urls: { type: 'string', default: '100000' },
    'max-size': { type: 'string', default: '64MB' },
    body: { type: 'string', default: '1024' },
    kind: { type: 'string', default: 'string' },
    socket: { type: 'boolean', default: false },
    'no-cache': { type: 'boolean', default: false },
    data: { type: 'boolean', default: false },
  },
})
const urls = Number(values.urls)
const bodyBytes = Number(values.body)
const kind = values.kind
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const MB = 1024 * 1024
function usage() {
  gc!()
  gc!()
  const u = process.memoryUsage()
  return {
    heap: u.heapUsed,
    heapTotal: u.heapTotal,
    buffers: u.arrayBuffers,
    external: u.external,
    rss: u.rss,
  }
}

const store = new MemoryStore({ maxSize: values['max-size'] as Size })
const app = Fastify()
await app.register(fastifyPerfCache, { store })
const filler = 'x'.repeat(bodyBytes)
app.get('/p/:id', { config: values['no-cache'] ? {} : { cache: { ttl: '10m' } } }, async (request, reply) => {
  const id = (request.params as { id: string }).id
  const text = `${id} ${filler}`.slice(0, bodyBytes)
  if (kind === 'buffer') return reply.type('application/octet-stream').send(Buffer.from(text))
  if (kind === 'json') return { id, filler: text }
  return text
})
await app.ready()
let base = ''
if (values.socket) base = await app.listen({ port: 0, host: '127.0.0.1' })

// Warm up: the code paths, the JIT, lru-cache's arrays for a few entries. Then a baseline.
for (let i = 0; i < 200; i++) await app.inject(`/p/warm${i}`)
store.close()
const before = usage()
const started = Date.now()
const concurrency = 32
let next = 0
async function worker() {
  while (next < urls) {
    if (values.data) {
      // The data cache: a distinct JSON-able object per key, about `body` bytes as JSON.
      const id = next++
      const filled = `${id} ${filler}`.slice(0, Math.max(0, bodyBytes - 60))
      // Through JSON, so every string is its own (as a value from a database driver would be).
      const value = JSON.parse(JSON.stringify({ id, name: `item ${id}`, tags: ['a', 'b'], filler: filled }))
      await app.cache.set(`item:${id}`, value)
      continue
    }
    const path = `/p/${next++}`
    if (values.socket) {
      const res = await fetch(base + path)
      await res.arrayBuffer()
    } else {
      await app.inject(path)
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker))
// Background store writes land a tick after each response.
await new Promise((resolve) => setTimeout(resolve, 100))
const after = usage()
if (process.env.MEMORY_HELD_SNAPSHOT) {
  const { writeHeapSnapshot } = await import('node:v8')
  writeHeapSnapshot(process.env.MEMORY_HELD_SNAPSHOT)
}
const grown = {
  heap: after.heap - before.heap,
  buffers: after.buffers - before.buffers,
  external: after.external - before.external,
  rss: after.rss - before.rss,
}
const report = {
  urls,
  bodyBytes,
  kind,
  socket: values.socket,
  seconds: (Date.now() - started) / 1000,
  maxSizeMB: store.maxSize / MB,
  storeCountedMB: +(store.size / MB).toFixed(1),
  entries: store.entries,
  grownHeapMB: +(grown.heap / MB).toFixed(1),
  grownBuffersMB: +(grown.buffers / MB).toFixed(1),
  grownExternalMB: +(grown.external / MB).toFixed(1),
  grownHeapPlusExternalMB: +((grown.heap + grown.external) / MB).toFixed(1),
  grownHeapTotalMB: +((after.heapTotal - before.heapTotal) / MB).toFixed(1),
  grownRssMB: +(grown.rss / MB).toFixed(1),
  // External, not array buffers: the memory store's chunks (slabs.ts) are mapped by V8 itself, so
  // Node's allocator, which arrayBuffers comes from, does not see them; external counts both.
  ratioToMaxSize: +((grown.heap + grown.external) / store.maxSize).toFixed(2),
  rssToMaxSize: +(grown.rss / store.maxSize).toFixed(2),
  heapPerEntryB: Math.round(grown.heap / store.entries),
  externalPerEntryB: Math.round(grown.external / store.entries),
  countedPerEntryB: Math.round(store.size / store.entries),
}
console.log(JSON.stringify(report))
await app.close()
