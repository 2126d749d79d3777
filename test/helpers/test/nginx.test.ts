import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { request, startNginx } from '../src/index.js'

/** A tiny HTTP server answering its own name; closed in `t.after`. */
async function upstream(t: import('node:test').TestContext, name: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(name))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return server
}

const address = (server: Server) => `127.0.0.1:${(server.address() as AddressInfo).port}`

test('startNginx balances over the upstreams, pins with x-upstream, retries a dead one, reloads and stops', async (t) => {
  const a = await upstream(t, 'a')
  const b = await upstream(t, 'b')
  const nginx = await startNginx({ upstreams: [address(a), address(b)] })
  t.after(() => nginx.stop())
  assert.match(nginx.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.match(nginx.config, /keepalive 32;/)

  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) seen.add((await request(`${nginx.url}/`)).text)
  assert.deepEqual([...seen].sort(), ['a', 'b'])
  assert.equal((await request(`${nginx.url}/`, { headers: { 'x-upstream': '1' } })).text, 'b')

  // A stopped instance: every request goes to the other one, none fails.
  a.closeAllConnections()
  await new Promise<void>((resolve) => a.close(() => resolve()))
  for (let i = 0; i < 4; i++) assert.equal((await request(`${nginx.url}/`)).text, 'b')

  await nginx.reload([address(b)])
  assert.match(nginx.config, new RegExp(`server ${address(b)}`))
  assert.equal((await request(`${nginx.url}/`)).text, 'b')

  await nginx.stop()
  await assert.rejects(request(`${nginx.url}/`, { timeoutMs: 1000 }))
})
