import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FST_PERF_REDIS_INVALID_OPTION,
  FST_PERF_REDIS_NOT_IMPLEMENTED,
  RedisStore,
} from '@fastify-perf/cache-redis'

test('the package imports and exports the RedisStore class', () => {
  assert.equal(typeof RedisStore, 'function')
})

test('the constructor throws FST_PERF_REDIS_NOT_IMPLEMENTED (not implemented yet)', () => {
  assert.throws(
    () => new RedisStore(),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_REDIS_NOT_IMPLEMENTED)
      assert.equal(error.code, 'FST_PERF_REDIS_NOT_IMPLEMENTED')
      return true
    },
  )
})

test('a bad option is reported before the missing implementation', () => {
  assert.throws(
    // @ts-expect-error `url` is not an option (yet)
    () => new RedisStore({ url: 'redis://127.0.0.1:6379' }),
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError)
      assert.equal(error.code, 'FST_PERF_REDIS_INVALID_OPTION')
      assert.ok(error instanceof FST_PERF_REDIS_INVALID_OPTION)
      assert.match(error.message, /unknown option "url"/)
      return true
    },
  )
  assert.throws(() => new RedisStore(null as never), FST_PERF_REDIS_INVALID_OPTION)
})
