// Joined reads and writes, on every store (memory, Redis, Memcached, and both behind a 20 ms
// relay): concurrent reads of a key share one store read (SafeStore#read), and a write made here
// drops the read in flight for its key, so a read started after the write never answers what was
// there before. The reads map keeps a key only while its read is the one to join
// (`PendingCall.readKey`): when a write dropped a read and a newer read took its place, the older
// read's end must leave the newer one joinable. Checked end to end here, with the calls in the
// order a busy process makes them (read, write, read, read, no await between), which a late store
// keeps in flight long enough for the joins to happen over the network.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCache } from '@fastify-perf/cache'
import { closer, DIRECT, LATE, openStore, storeLabel } from './support/stores.js'

const SETUPS = [...DIRECT, ...LATE.filter((setup) => setup.delayMs > 0)]

describe('a read after a write never joins the read in flight before it', () => {
  for (const setup of SETUPS) {
    describe(storeLabel(setup), () => {
      test('set, delete and a second set, each between reads issued without awaiting', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const cache = createCache({ store, storeTimeout: '2s' })
        defer(() => cache.close())
        await cache.set('k', 'v1', { ttl: '1m' })

        // Round 1: a read, a write, then two reads: the second joins the first of them.
        const joinedBefore = cache.stats().store.joinedReads
        const before = cache.get<string>('k')
        const write = cache.set('k', 'v2', { ttl: '1m' })
        const after = cache.get<string>('k')
        const alsoAfter = cache.get<string>('k')
        assert.equal(await after, 'v2')
        assert.equal(await alsoAfter, 'v2')
        // Started before the write: either value is right, nothing else.
        assert.ok(['v1', 'v2'].includes((await before) as string))
        await write
        if (setup.name !== 'memory') {
          // A remote store: `alsoAfter` shared `after`'s read (a memory store answers at once).
          assert.equal(cache.stats().store.joinedReads - joinedBefore, 1)
        }

        // Round 2: a delete between reads.
        const beforeDelete = cache.get<string>('k')
        const removal = cache.delete('k')
        const afterDelete = cache.get<string>('k')
        assert.equal(await afterDelete, undefined)
        assert.ok([undefined, 'v2'].includes(await beforeDelete))
        await removal

        // Round 3: five writes, each followed by two reads, all issued at once.
        const reads: Promise<string | undefined>[] = []
        const writes: Promise<void>[] = []
        for (let i = 0; i < 5; i++) {
          writes.push(cache.set('k', `w${i}`, { ttl: '1m' }))
          reads.push(cache.get<string>('k'), cache.get<string>('k'))
        }
        const values = await Promise.all(reads)
        await Promise.all(writes)
        // Each read answers the write made just before it, never an older one.
        assert.deepEqual(
          values,
          [0, 0, 1, 1, 2, 2, 3, 3, 4, 4].map((i) => `w${i}`),
        )
        assert.equal(await cache.get('k'), 'w4')

        // Round 4: a clear between reads. Memcached's clear is a new generation, in use here from
        // the call on; the memory store's is synchronous; Redis's is a SCAN and UNLINKs over several
        // round trips, during which the engine reads the namespace as absent on this instance.
        {
          const beforeClear = cache.get<string>('k')
          const clearing = cache.clear()
          const afterClear = cache.get<string>('k')
          assert.equal(await afterClear, undefined)
          assert.ok([undefined, 'w4'].includes(await beforeClear))
          await clearing
          assert.equal(await cache.get('k'), undefined)
          await cache.set('k', 'after clear', { ttl: '1m' })
          assert.equal(await cache.get('k'), 'after clear')
        }
      })

      test('a read after the dropped read ended answers the write', async (t) => {
        const defer = closer(t)
        const { store } = await openStore(setup, defer)
        const cache = createCache({ store, storeTimeout: '2s' })
        defer(() => cache.close())
        await cache.set('k', 'v1', { ttl: '1m' })
        const dropped = cache.get<string>('k')
        const write = cache.set('k', 'v2', { ttl: '1m' })
        const current = cache.get<string>('k')
        // The dropped read ends first (a store answers in order). A read now joins `current` if it
        // is still in flight, or reads on its own: either way it answers the write. (That it joins
        // is checked with a store that answers on command: packages/cache/test/safe-store-read.test.ts.)
        assert.ok(['v1', 'v2'].includes((await dropped) as string))
        const late = cache.get<string>('k')
        assert.equal(await current, 'v2')
        assert.equal(await late, 'v2')
        await write
        assert.equal(await cache.get('k'), 'v2')
      })
    })
  }
})
