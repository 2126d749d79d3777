/**
 * `raw-hit`: the ceiling of any cache hit served inside a Node process. A plain `node:http` server,
 * no Fastify, answering the stored 2 KB payload from a `Map` looked up by `req.url`: one lookup and
 * one `writeHead` + `end` of bytes prepared at startup. Its headers are those `limit` sends
 * (`content-type`, `content-length`; Node adds `Date`, `Connection` and `Keep-Alive`, with
 * Fastify's 72 s keep-alive timeout so even that header is the same). A reference, like the nginx
 * rows: no goal of its own; the edge path of issue 18 is measured against it.
 *
 * It is not a Fastify app, so it exports `startServer` (see `../src/scenario.ts`): it listens in
 * the scenario's server process, which the harness pins and samples as usual.
 */

import { once } from 'node:events'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StartServer } from '../src/scenario.js'
import { JSON_CONTENT_TYPE, PAYLOAD } from './payload.js'

/** Fastify's default `keepAliveTimeout` (72 s), so the `Keep-Alive` header matches `limit`'s. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000

interface StoredResponse {
  readonly headers: Readonly<Record<string, string | number>>
  readonly body: Buffer
}

export const startServer: StartServer = async () => {
  const body = Buffer.from(PAYLOAD)
  const stored = new Map<string, StoredResponse>([
    ['/', { headers: { 'content-type': JSON_CONTENT_TYPE, 'content-length': body.length }, body }],
  ])
  const server = createHttpServer(function rawHit(req: IncomingMessage, res: ServerResponse) {
    const hit = stored.get(req.url ?? '')
    if (hit === undefined) {
      res.writeHead(404, { 'content-length': 0 }).end()
      return
    }
    res.writeHead(200, hit.headers).end(hit.body)
  })
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    cpuUsage: () => process.cpuUsage(),
    rssBytes: () => process.memoryUsage.rss(),
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
