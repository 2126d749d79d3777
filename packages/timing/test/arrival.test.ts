// The arrival listener (src/arrival.ts) takes the place of Fastify's `request` listener and calls
// it; another package (the route cache's edge path) may take Fastify's place inside it through
// the `fastify-perf.routingSlot` protocol. Whatever the order in which they are installed and
// removed, every request reaches each listener once, in the order wrapper → edge → Fastify, and
// the server ends with Fastify's listener alone.
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { test } from 'node:test'
import { installArrival, kRoutingSlot, type Listener, replaceListener } from '../src/arrival.js'

function emit(server: ReturnType<typeof createServer>, url: string): void {
  server.emit('request', { url } as IncomingMessage, {} as ServerResponse)
}

/** An edge-like listener in Fastify's place: calls what it replaced. */
function edge(calls: string[], routing: Listener): Listener {
  return (req, res) => {
    calls.push(`edge ${req.url}`)
    routing(req, res)
  }
}

test('the arrival wraps Fastify, an edge installed later goes inside it, and both leave in any order', () => {
  for (const order of ['edge first out', 'timing first out'] as const) {
    const calls: string[] = []
    const server = createServer()
    const routing: Listener = (req) => calls.push(`fastify ${req.url}`)
    const other: Listener = (req) => calls.push(`other ${req.url}`)
    server.on('request', other)
    server.on('request', routing)
    const uninstall = installArrival(
      server,
      routing,
      (req) => calls.push(`mark ${req.url}`),
      () => calls.push('leave'),
      null,
    )
    // One listener in Fastify's place, the other kept before it.
    assert.equal(server.listeners('request').length, 2)
    assert.equal(server.listeners('request')[0], other)
    const edgeListener = edge(calls, routing)
    assert.equal(replaceListener(server, routing, edgeListener), true, 'the edge finds Fastify in the slot')
    emit(server, '/a')
    assert.deepEqual(calls, ['other /a', 'mark /a', 'edge /a', 'fastify /a', 'leave'])
    if (order === 'edge first out') {
      assert.equal(replaceListener(server, edgeListener, routing), true)
      uninstall()
    } else {
      uninstall()
      // The wrapper left the edge listener in its place.
      assert.ok(server.listeners('request').includes(edgeListener))
      assert.equal(replaceListener(server, edgeListener, routing), true)
    }
    assert.deepEqual(server.listeners('request'), [other, routing], order)
    calls.length = 0
    emit(server, '/b')
    assert.deepEqual(calls, ['other /b', 'fastify /b'], order)
  }
})

test('without Fastify among the listeners, the marks go before and after the others', () => {
  const calls: string[] = []
  const server = createServer()
  const routing: Listener = (req) => calls.push(`fastify ${req.url}`)
  // A serverFactory that calls Fastify from a listener of its own.
  const own: Listener = (req, res) => routing(req, res)
  server.on('request', own)
  const uninstall = installArrival(
    server,
    routing,
    (req) => calls.push(`mark ${req.url}`),
    () => calls.push('leave'),
    null,
  )
  emit(server, '/a')
  assert.deepEqual(calls, ['mark /a', 'fastify /a', 'leave'])
  uninstall()
  assert.deepEqual(server.listeners('request'), [own])
  assert.equal(replaceListener(server, routing, own), false)
})

test("the request's async context holds its message from arrival, through awaits", async () => {
  const server = createServer()
  const storage = new AsyncLocalStorage<IncomingMessage>()
  const seen: [string | undefined, string | undefined][] = []
  const done: Promise<void>[] = []
  const routing: Listener = (req) => {
    done.push(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, req.url === '/slow' ? 20 : 1))
        seen.push([req.url, storage.getStore()?.url])
      })(),
    )
  }
  server.on('request', routing)
  const uninstall = installArrival(
    server,
    routing,
    () => {},
    () => {},
    storage,
  )
  emit(server, '/slow')
  emit(server, '/fast')
  await Promise.all(done)
  assert.deepEqual(seen, [
    ['/fast', '/fast'],
    ['/slow', '/slow'],
  ])
  uninstall()
  const wrapper = server.listeners('request')[0] as { [kRoutingSlot]?: unknown }
  assert.equal(wrapper[kRoutingSlot], undefined, 'Fastify is back in its place')
})
