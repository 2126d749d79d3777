import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { FST_PERF_CACHE_ALREADY_REGISTERED, fastifyPerfCache } from '../src/index.js'

// Issue 17: a second registration used to fail with Fastify's generic FST_ERR_DEC_ALREADY_PRESENT.
test('registered twice: register() rejects with FST_PERF_CACHE_ALREADY_REGISTERED', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfCache)
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfCache)
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_CACHE_ALREADY_REGISTERED)
      assert.equal(error.code, 'FST_PERF_CACHE_ALREADY_REGISTERED')
      return true
    },
  )
})

test('once per encapsulated context is fine', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  app.register(async (scope) => {
    await scope.register(fastifyPerfCache)
  })
  app.register(async (scope) => {
    await scope.register(fastifyPerfCache)
  })
  await app.ready()
})
