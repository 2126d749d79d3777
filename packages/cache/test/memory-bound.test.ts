import assert from 'node:assert/strict'
import { test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import Fastify from 'fastify'
import { fastifyPerfCache, MemoryStore } from '../src/index.js'

// The data cache's side of issue 15, case 8: the engine keeps the decoded value of every entry
// beside its serialized text, so a hit decodes nothing; the memory store counts both, and what the
// process holds stays within maxSize. (The route cache's side, 100,000 URLs over real sockets, is
// test/integration/route-memory.test.ts.)

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const MB = 1024 * 1024

function held(): number {
  gc()
  gc()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

// [value size in bytes, keys written]: each offers the 64 MB store more than it can hold.
const cases: Array<[number, number]> = [
  [100, 100_000],
  [1000, 100_000],
  [10_000, 20_000],
]

for (const [valueBytes, keys] of cases) {
  test(`data cache: ${keys} distinct keys of ~${valueBytes} B values hold at most 1.25x maxSize`, async (t) => {
    const store = new MemoryStore({ maxSize: '64MB' })
    const app = Fastify()
    await app.register(fastifyPerfCache, { store })
    t.after(() => app.close())
    await app.ready()
    const filler = 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(valueBytes / 26))
    const value = (i: number) =>
      // Through JSON, so that every string is its own, as a value from a database driver is.
      JSON.parse(
        JSON.stringify({
          id: i,
          name: `item ${i}`,
          tags: ['a', 'b'],
          text: `${i}${filler}`.slice(0, valueBytes - 60),
        }),
      )
    for (let i = 0; i < 200; i++) await app.cache.set(`warm:${i}`, value(i))
    const before = held()
    for (let i = 0; i < keys; i++) await app.cache.set(`item:${i}`, value(i))
    const grown = held() - before
    t.diagnostic(
      `${store.entries} entries, ${(store.size / MB).toFixed(1)} MB counted, process +${(grown / MB).toFixed(1)} MB`,
    )
    assert.ok(store.size <= store.maxSize)
    assert.ok(store.entries < keys, 'older entries must have been evicted')
    assert.ok(grown <= 1.25 * store.maxSize, `${(grown / MB).toFixed(1)} MB held for a 64 MB store`)
    // And the values read back are the decoded ones the store accounts for.
    assert.deepEqual(await app.cache.get(`item:${keys - 1}`), value(keys - 1))
  })
}
