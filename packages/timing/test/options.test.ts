import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FST_PERF_TIMING_INVALID_OPTION } from '../src/errors.js'
import { resolveOptions } from '../src/options.js'

test('resolveOptions returns a new frozen object and leaves the input alone', () => {
  const input = { prefix: '/v1' }
  const resolved = resolveOptions(input)
  assert.ok(Object.isFrozen(resolved))
  assert.notEqual(resolved, input)
  assert.deepEqual(input, { prefix: '/v1' })
  assert.ok(Object.isFrozen(resolveOptions()))
})

test('resolveOptions refuses options that are not an object', () => {
  for (const bad of [null, [], true, 5]) {
    assert.throws(() => resolveOptions(bad as never), FST_PERF_TIMING_INVALID_OPTION)
  }
})
