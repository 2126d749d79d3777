/**
 * `static-small-nginx`: the same 4 KB stylesheet served by nginx, as a reference point for the
 * static scenarios (not a goal). One worker process, so it gets one core like every Node server
 * (the harness pins the server process to CPU 0 and nginx inherits the pinning), `sendfile on`, no
 * access log, the same Cache-Control as `@fastify-perf/static` gives the file. nginx's defaults
 * otherwise: `open_file_cache` off, so it opens and stats the file on every request, like
 * `@fastify/static`.
 *
 * Skipped by the harness (with a note) when nginx is not on PATH: `apt-get install -y nginx-light`.
 */

import type { StartServer } from '../src/scenario.js'
import { startNginx } from './nginx-server.js'
import { createStaticRoot } from './static-asset.js'

export const startServer: StartServer = async () => {
  const site = createStaticRoot()
  return startNginx({
    http: (port) => `
  types { text/css css; }
  default_type application/octet-stream;
  charset utf-8;
  charset_types text/css;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:${port};
    root ${site.root};
    location / {
      add_header Cache-Control "public, max-age=300, must-revalidate";
    }
  }`,
    close: async () => site.remove(),
  })
}
