import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FST_PERF_MEMCACHED_INVALID_OPTION,
  FST_PERF_MEMCACHED_NOT_IMPLEMENTED,
  MemcachedStore,
} from '@fastify-perf/cache-memcached'

test('the package imports and exports the MemcachedStore class', () => {
  assert.equal(typeof MemcachedStore, 'function')
})

test('the constructor throws FST_PERF_MEMCACHED_NOT_IMPLEMENTED (not implemented yet)', () => {
  assert.throws(
    () => new MemcachedStore(),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_MEMCACHED_NOT_IMPLEMENTED)
      assert.equal(error.code, 'FST_PERF_MEMCACHED_NOT_IMPLEMENTED')
      return true
    },
  )
})

test('a bad option is reported before the missing implementation', () => {
  assert.throws(
    // @ts-expect-error `servers` is not an option (yet)
    () => new MemcachedStore({ servers: '127.0.0.1:11211' }),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError)
      assert.equal(error.code, 'FST_PERF_MEMCACHED_INVALID_OPTION')
      assert.ok(error instanceof FST_PERF_MEMCACHED_INVALID_OPTION)
      assert.match(error.message, /unknown option "servers"/)
      return true
    },
  )
  assert.throws(() => new MemcachedStore(null as never), FST_PERF_MEMCACHED_INVALID_OPTION)
})
