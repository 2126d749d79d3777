import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { MemoryStore } from '../src/index.js'
import { storeSuite } from '../src/testing/index.js'

for (const c of storeSuite({
  createStore: () => new MemoryStore({ maxSize: '16MB', maxEntrySize: '4MB' }),
  lock: true,
  add: true,
})) {
  test(`MemoryStore conformance: ${c.name}`, c.run)
}

// A real collection before each reading, whatever flags the runner was started with.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

test('MemoryStore stays within maxSize under a write flood of random keys and values', async () => {
  const maxSize = 8 * 1024 * 1024
  const store = new MemoryStore({ maxSize })
  gc()
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  let written = 0
  // ~400 MB offered to an 8 MB store: random keys, random sizes from 100 B to 20 KB, text and binary.
  for (let i = 0; i < 40_000; i++) {
    const size = 100 + Math.floor(Math.random() * 20_000)
    const value = i % 2 === 0 ? randomBytes(size) : randomBytes(size / 2).toString('hex')
    const now = Date.now()
    store.set(
      randomBytes(12).toString('base64url'),
      {
        value,
        createdAt: now,
        freshUntil: now + 60_000,
        staleUntil: now + 60_000,
        graceUntil: now + 60_000,
        tags: [],
        tagVersions: [],
      },
      60_000,
    )
    written += size
    assert.ok(store.size <= maxSize, `store counts ${store.size} bytes, over its ${maxSize} bound`)
  }
  assert.ok(written > 40 * maxSize, 'the flood must be far larger than the bound')
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before
  // Measured memory, not just the store's own count: held entries plus V8/Buffer overheads stay
  // within a small multiple of the bound while 50x the bound went through.
  assert.ok(grown < 4 * maxSize, `memory grew by ${(grown / 1048576).toFixed(1)} MB for an 8 MB store`)
  assert.ok(store.entries > 100, 'the store should still hold recent entries')
})

test('MemoryStore skips entries over maxEntrySize', () => {
  const store = new MemoryStore({ maxSize: '1MB', maxEntrySize: '10KB' })
  const now = Date.now()
  const meta = {
    createdAt: now,
    freshUntil: now + 1000,
    staleUntil: now + 1000,
    graceUntil: now + 1000,
    tags: [],
    tagVersions: [],
  }
  store.set('small', { value: 'x'.repeat(1000), ...meta }, 1000)
  store.set('big', { value: 'x'.repeat(20_000), ...meta }, 1000)
  assert.ok(store.get('small'))
  assert.equal(store.get('big'), undefined)
})
