// A route-cache server for memory measurements, run as its own process (forked with
// `--expose-gc` by route-memory.test.ts): only the server's memory is measured, not the load
// generator's. Answers the parent's IPC messages:
//   { measure: true } -> { heapUsed, arrayBuffers, rss, heapTotal, external, mallocHeap,
//                          storeSize, storeEntries, maxSize }
// after two full collections, and sends { port } once it listens. `mallocHeap`: the resident
// bytes of the process's `[heap]` mapping (glibc's main malloc arena), on Linux; -1 elsewhere.
import { readFileSync } from 'node:fs'
import fastifyPerfCache, { MemoryStore, type Size } from '@fastify-perf/cache'
import Fastify from 'fastify'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined || process.send === undefined)
  throw new Error('fork me with --expose-gc and an IPC channel')
const send = process.send.bind(process)

const store = new MemoryStore({ maxSize: (process.env.MAX_SIZE ?? '64MB') as Size })
const app = Fastify()
await app.register(fastifyPerfCache, { store })

// Bodies of 200 B to ~6 KB, text and JSON, distinct per URL: sizes on both sides of Buffer's 4 KB
// pooling threshold, where an entry keeping a slice of a shared 8 KB slab alive would show.
const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(200)
app.get('/p/:id', { config: { cache: { ttl: '10m' } } }, async (request, reply) => {
  const id = Number((request.params as { id: string }).id)
  const size = 200 + ((id * 7919) % 5800)
  const text = `${id} ${filler}`.slice(0, size)
  if (id % 2 === 0) return reply.type('text/html; charset=utf-8').send(text)
  return { id, text }
})
const address = await app.listen({ port: 0, host: '127.0.0.1' })

process.on('message', (message: { measure?: boolean; close?: boolean }) => {
  if (message.close) {
    void app.close().then(() => process.exit(0))
    return
  }
  gc()
  gc()
  const usage = process.memoryUsage()
  send({
    heapUsed: usage.heapUsed,
    arrayBuffers: usage.arrayBuffers,
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    external: usage.external,
    mallocHeap: mallocHeap(),
    storeSize: store.size,
    storeEntries: store.entries,
    maxSize: store.maxSize,
  })
})
send({ port: Number(new URL(address).port) })

function mallocHeap(): number {
  let smaps: string
  try {
    smaps = readFileSync('/proc/self/smaps', 'utf8')
  } catch {
    return -1
  }
  const at = smaps.indexOf(' [heap]\n')
  if (at < 0) return 0
  const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at))
  return rss === null ? -1 : Number(rss[1]) * 1024
}
