/**
 * `route-nginx-proxy-cache`: the peer of the route-hit scenarios. nginx with `proxy_cache` in front
 * of the uncached `slow` app (the same Fastify server as the `slow` scenario, in this process), so
 * after the first request nginx answers every request from its cache: the usual way to put a cache
 * in front of a Node service. Measured CPU is nginx's (one worker) plus this Node process's, which
 * idles once the cache is warm.
 *
 * nginx settings are the common production ones for a micro-cache: `proxy_cache_valid 200 10m`
 * (the app sends no Cache-Control, like the route-hit scenarios rely on `ttl: '10m'`), cache lock
 * on, keep-alive to the upstream, no access log, cache zone in memory with its files under the
 * state directory (the Linux page cache holds the one 2 KB entry).
 *
 * Skipped by the harness (with a note) when nginx is not on PATH: `apt-get install -y nginx-light`.
 */

import type { StartServer } from '../src/scenario.js'
import { startNginx } from './nginx-server.js'
import { createServer as createSlowServer } from './slow.js'

export const startServer: StartServer = async (context) => {
  const app = await createSlowServer(context)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected server address')
  const upstream = address.port
  return startNginx({
    http: (port, state) => `
  proxy_cache_path ${state}/cache levels=1:2 keys_zone=route:10m max_size=64m inactive=10m use_temp_path=off;
  upstream app {
    server 127.0.0.1:${upstream};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache route;
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }`,
    extraCpu: () => process.cpuUsage(),
    close: () => app.close(),
  })
}
