// The memory store keeps route responses in shared chunks (src/slabs.ts): what it compacts, and
// that a moved entry keeps its bytes and is announced to the owner of its decoded form.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { fastifyPerfCache, MemoryStore } from '../src/index.js'
import { CHUNK } from '../src/slabs.js'
import type { StoredEntry } from '../src/store.js'

function entry(value: Uint8Array): StoredEntry {
  return { value, createdAt: 0, freshUntil: 0, staleUntil: 0, graceUntil: 0, tags: [], tagVersions: [] }
}

function filled(store: MemoryStore, size: number, byte: number): Buffer {
  const view = store.allocate(size)
  view.fill(byte)
  return view
}

test('values share chunks; large ones get memory of their own', () => {
  const store = new MemoryStore({ maxSize: '16MB' })
  const a = store.allocate(3000)
  const b = store.allocate(5000)
  assert.equal(a.buffer, b.buffer)
  assert.equal(a.buffer.byteLength, CHUNK)
  assert.equal(b.byteOffset % 8, 0)
  const large = store.allocate(CHUNK / 4)
  assert.notEqual(large.buffer, a.buffer)
  assert.equal(large.buffer.byteLength, CHUNK / 4)
})

test('hot entries left in sparse chunks are moved, bytes intact, and announced; cold churn copies nothing', () => {
  const maxSize = 8 * 1024 * 1024
  const store = new MemoryStore({ maxSize })
  const moved: StoredEntry[] = []
  store.onRelocate((e) => moved.push(e))
  const size = 4000
  const hot: Array<{ key: string; entry: StoredEntry; byte: number }> = []
  // Cold churn first: least recently used evicted in the order stored, so chunks empty whole.
  for (let i = 0; i < 10_000; i++) store.set(`cold${i}`, entry(filled(store, size, i & 0xff)), 60_000)
  assert.equal(store.relocatedBytes, 0, 'plain churn must not copy')
  // Then one hot entry per chunk's worth of writes, read between writes so it stays.
  let n = 0
  for (let round = 0; round < 20_000; round++) {
    if (round % 200 === 0) {
      const byte = (round / 200) & 0xff
      const e = entry(filled(store, size, byte))
      hot.push({ key: `hot${round}`, entry: e, byte })
      store.set(`hot${round}`, e, 60_000)
    }
    for (const h of hot) store.get(h.key)
    store.set(`c${n++}`, entry(filled(store, size, 7)), 60_000)
  }
  assert.ok(moved.length > 0, 'some hot entries were moved')
  assert.ok(store.relocatedBytes > 0)
  for (const h of hot) {
    const got = store.get(h.key)
    assert.equal(got, h.entry, 'the same entry object, updated in place')
    const value = got!.value as Uint8Array
    assert.equal(value.byteLength, size)
    assert.ok(
      value.every((x) => x === h.byte),
      `${h.key} kept its bytes`,
    )
  }
  // The hot entries now share few chunks instead of pinning one each.
  const chunks = new Set(hot.map((h) => (h.entry.value as Uint8Array).buffer))
  assert.ok(chunks.size < hot.length / 4, `${hot.length} hot entries in ${chunks.size} chunks`)
})

test('clear() and close() copy nothing', () => {
  const store = new MemoryStore({ maxSize: '4MB' })
  for (let i = 0; i < 3000; i++) store.set(`k${i}`, entry(filled(store, 3000, 1)), 60_000)
  const before = store.relocatedBytes
  store.clear('')
  store.set('after', entry(filled(store, 3000, 2)), 60_000)
  assert.equal((store.get('after')!.value as Uint8Array)[0], 2)
  store.close()
  assert.equal(store.relocatedBytes, before)
})

test('route cache: hot responses moved by compaction are still hits, with their bytes and ETag', async (t) => {
  const store = new MemoryStore({ maxSize: '4MB' })
  const app = Fastify()
  await app.register(fastifyPerfCache, { store })
  app.get('/p/:id', { config: { cache: { ttl: '10m' } } }, async (request, reply) => {
    const id = (request.params as { id: string }).id
    return reply.type('text/plain').send(`${id}:`.padEnd(3000, id.slice(-1)))
  })
  t.after(() => app.close())
  await app.ready()
  const moved: StoredEntry[] = []
  store.onRelocate((e) => moved.push(e))
  const hot = ['hot1', 'hot2', 'hot3']
  const etags = new Map<string, string>()
  for (const id of hot) await app.inject(`/p/${id}`)
  await new Promise((resolve) => setTimeout(resolve, 20))
  // The ETag is generated when the response is stored: read it from a hit.
  for (const id of hot) etags.set(id, String((await app.inject(`/p/${id}`)).headers.etag))
  for (let i = 0; i < 6000; i++) {
    await app.inject(`/p/c${i}`)
    // Written a tick after the response; then read often enough to stay in the LRU.
    if (i % 50 === 0) for (const id of hot) await app.inject(`/p/${id}`)
  }
  assert.ok(moved.length > 0, 'compaction moved hot entries')
  for (const id of hot) {
    const res = await app.inject(`/p/${id}`)
    assert.match(String(res.headers['cache-status']), /hit/)
    assert.equal(res.body, `${id}:`.padEnd(3000, id.slice(-1)))
    assert.equal(res.headers.etag, etags.get(id))
  }
})
