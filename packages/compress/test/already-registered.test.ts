import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyCompress from '@fastify/compress'
import fastifyPerfCompress, { FST_PERF_COMPRESS_ALREADY_REGISTERED } from '@fastify-perf/compress'
import Fastify from 'fastify'

// Issue 17: both cases used to kill the process with an uncaught FST_ERR_DEC_ALREADY_PRESENT
// (thrown by @fastify/compress, a callback-style plugin, where avvio does not catch it).

test('registered twice: register() rejects with FST_PERF_COMPRESS_ALREADY_REGISTERED', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfCompress)
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfCompress)
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_COMPRESS_ALREADY_REGISTERED)
      assert.equal(error.code, 'FST_PERF_COMPRESS_ALREADY_REGISTERED')
      assert.match(error.message, /^@fastify-perf\/compress is already registered/)
      return true
    },
  )
})

test('registered after @fastify/compress: ready() rejects with FST_PERF_COMPRESS_ALREADY_REGISTERED', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  app.register(fastifyCompress)
  app.register(fastifyPerfCompress)
  await assert.rejects(
    async () => {
      await app.ready()
    },
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'FST_PERF_COMPRESS_ALREADY_REGISTERED')
      assert.match(error.message, /^@fastify\/compress/)
      return true
    },
  )
})

for (const where of ['same context', 'a context inside it'] as const) {
  test(`@fastify/compress registered after it (${where}): ready() rejects with FST_PERF_COMPRESS_ALREADY_REGISTERED, no crash`, async (t) => {
    const app = Fastify()
    t.after(() => app.close())
    app.register(fastifyPerfCompress)
    if (where === 'same context') app.register(fastifyCompress)
    else app.register(async (scope) => scope.register(fastifyCompress))
    await assert.rejects(
      async () => {
        await app.ready()
      },
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FST_PERF_COMPRESS_ALREADY_REGISTERED')
        assert.match(error.message, /not next to @fastify\/compress/)
        return true
      },
    )
  })
}

test('once per encapsulated context is fine', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(async (scope) => {
    await scope.register(fastifyPerfCompress)
  })
  await app.register(async (scope) => {
    await scope.register(fastifyPerfCompress)
  })
  await app.ready()
})
