import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfTiming, { FST_PERF_TIMING_ALREADY_REGISTERED } from '@fastify-perf/timing'
import Fastify from 'fastify'

// Issue 17: a second registration used to fail with Fastify's generic FST_ERR_DEC_ALREADY_PRESENT.
test('registered twice: register() rejects with FST_PERF_TIMING_ALREADY_REGISTERED', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfTiming)
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfTiming, { metrics: false })
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_TIMING_ALREADY_REGISTERED)
      assert.equal(error.code, 'FST_PERF_TIMING_ALREADY_REGISTERED')
      return true
    },
  )
})
