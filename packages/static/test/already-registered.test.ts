import assert from 'node:assert/strict'
import { test } from 'node:test'
import fastifyPerfStatic, {
  FST_PERF_STATIC_ALREADY_REGISTERED,
  FST_PERF_STATIC_INVALID_OPTION,
} from '@fastify-perf/static'
import Fastify from 'fastify'
import { makeSite } from './fixtures.js'

// Issue 17: the same prefix twice used to fail with Fastify's generic FST_ERR_DUPLICATED_ROUTE.
test('registered twice with the same prefix: register() rejects with FST_PERF_STATIC_ALREADY_REGISTERED', async (t) => {
  const site = makeSite(t)
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfStatic, { root: site.root, prefix: '/assets/' })
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfStatic, { root: site.root, prefix: '/assets/' })
    },
    (error: Error & { code?: string }) => {
      assert.ok(error instanceof FST_PERF_STATIC_ALREADY_REGISTERED)
      assert.equal(error.code, 'FST_PERF_STATIC_ALREADY_REGISTERED')
      assert.match(error.message, /"\/assets\/"/)
      return true
    },
  )
})

test('twice with two prefixes is fine, the second with decorateReply: false (reply.sendFile belongs to one)', async (t) => {
  const site = makeSite(t)
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfStatic, { root: site.root, prefix: '/a/' })
  await app.register(fastifyPerfStatic, { root: site.root, prefix: '/b/', decorateReply: false })
  await app.ready()
})

test('twice in one context, both decorating reply.sendFile: register() rejects with a coded error that says what to do', async (t) => {
  const site = makeSite(t)
  const app = Fastify()
  t.after(() => app.close())
  await app.register(fastifyPerfStatic, { root: site.root, prefix: '/a/' })
  await assert.rejects(
    async () => {
      await app.register(fastifyPerfStatic, { root: site.root, prefix: '/b/' })
    },
    (error: Error & { code?: string; cause?: { code?: string } }) => {
      assert.ok(error instanceof FST_PERF_STATIC_INVALID_OPTION)
      assert.match(error.message, /"decorateReply".*decorateReply: false/)
      assert.equal(error.cause?.code, 'FST_ERR_DEC_ALREADY_PRESENT')
      return true
    },
  )
})

test('the same prefix under two Fastify prefixes is fine', async (t) => {
  const site = makeSite(t)
  const app = Fastify()
  t.after(() => app.close())
  await app.register(
    async (scope) => {
      await scope.register(fastifyPerfStatic, { root: site.root })
    },
    { prefix: '/one' },
  )
  await app.register(
    async (scope) => {
      await scope.register(fastifyPerfStatic, { root: site.root })
    },
    { prefix: '/two' },
  )
  await app.ready()
})
