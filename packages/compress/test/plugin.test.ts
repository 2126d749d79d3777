import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfCompressDefault, {
  FST_PERF_COMPRESS_INVALID_OPTION,
  fastifyPerfCompress,
} from '@fastify-perf/compress'
import Fastify, { type FastifyInstance } from 'fastify'

// A body well above any compression threshold, so a future implementation would touch it.
const payload = JSON.stringify({
  items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
})

function buildApp(t: { after: (fn: () => Promise<void>) => void }): FastifyInstance {
  const app = Fastify()
  t.after(() => app.close())
  app.get('/items', async (_request, reply) => reply.type('application/json').send(payload))
  return app
}

async function requestItems(app: FastifyInstance) {
  const response = await app.inject({
    method: 'GET',
    url: '/items',
    headers: { 'accept-encoding': 'br, gzip' },
  })
  const { date: _date, ...headers } = response.headers
  return { statusCode: response.statusCode, headers, body: response.body }
}

test('registering the plugin changes nothing in the response (not implemented yet)', async (t) => {
  const bare = buildApp(t)
  const withPlugin = buildApp(t)
  await withPlugin.register(fastifyPerfCompress)

  const expected = await requestItems(bare)
  const actual = await requestItems(withPlugin)
  assert.equal(actual.statusCode, 200)
  assert.equal(actual.body, payload)
  assert.deepEqual(actual, expected)
})

test('the default export is the named export, with the plugin metadata', () => {
  assert.equal(fastifyPerfCompressDefault, fastifyPerfCompress)
  const meta = (fastifyPerfCompress as unknown as Record<symbol, { name: string; fastify: string }>)[
    Symbol.for('plugin-meta')
  ]
  assert.equal(meta?.name, '@fastify-perf/compress')
  assert.equal(meta?.fastify, '5.x')
})

test('an unknown option fails registration with FST_PERF_COMPRESS_INVALID_OPTION', async (t) => {
  const app = buildApp(t)
  // @ts-expect-error `level` is not an option (yet)
  app.register(fastifyPerfCompress, { level: 5 })
  await assert.rejects(
    async () => {
      await app.ready()
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof TypeError)
      assert.ok(error instanceof FST_PERF_COMPRESS_INVALID_OPTION)
      assert.equal(error.code, 'FST_PERF_COMPRESS_INVALID_OPTION')
      assert.match(error.message, /unknown option "level"/)
      return true
    },
  )
})

test('Fastify registration options such as prefix are accepted', async (t) => {
  const app = buildApp(t)
  await app.register(fastifyPerfCompress, { prefix: '/v1', logLevel: 'warn' })
  await app.ready()
})
