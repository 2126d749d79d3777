import cluster from 'node:cluster'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AggregatorRegistry, type Registry } from 'prom-client'
import { FST_PERF_TIMING_INVALID_OPTION, FST_PERF_TIMING_NOT_PRIMARY } from './errors.js'
import type { MetricsRegistry } from './options.js'

// With `node:cluster`, each worker has its own counters, and a scrape of the shared port reaches
// one worker at random: rates computed from such scrapes jump between workers and are wrong (see
// prometheus/client_js#147 and vtex/node-vtex-api#667 in the research notes). The primary asks
// every worker for its registry over the cluster IPC channel and serves the sum, with
// prom-client's AggregatorRegistry: counters and histogram buckets add up, and each gauge uses the
// aggregator its metric declares (in-flight requests add up, a breaker state takes the max).

/** Options of {@link setupClusterMetrics}. */
export interface ClusterMetricsOptions {
  /** Port of the metrics server in the primary. `0` picks a free one (see `url`). */
  port: number
  /** Address to listen on. @default '127.0.0.1' (scrapers usually run on the host or a sidecar) */
  host?: string
  /** Path of the metrics. @default '/metrics' */
  path?: string
  /** Who may read the metrics; others get 404. @default every client */
  guard?: (request: IncomingMessage) => boolean
}

/** A running cluster metrics server. */
export interface ClusterMetricsServer {
  /** `http://host:port/path` of the aggregated metrics. */
  readonly url: string
  readonly server: Server
  /** Stops the metrics server. */
  close(): Promise<void>
}

/**
 * Serves, from the `node:cluster` primary, one Prometheus scrape summed over every worker.
 * Workers register the plugin with `metrics: { cluster: true, path: false }`. A worker that does
 * not answer within 5 s fails the scrape with 500 (prom-client's timeout), rather than returning
 * a partial sum that would look like a drop in traffic.
 *
 * @example
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < 2; i++) cluster.fork()
 *   await setupClusterMetrics({ port: 9464 })
 * } else {
 *   await app.register(fastifyPerfTiming, { metrics: { cluster: true, path: false } })
 * }
 */
export async function setupClusterMetrics(options: ClusterMetricsOptions): Promise<ClusterMetricsServer> {
  if (!cluster.isPrimary) throw new FST_PERF_TIMING_NOT_PRIMARY()
  const { port, host = '127.0.0.1', path = '/metrics', guard } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `setupClusterMetrics: port must be an integer from 0 to 65535, got ${String(port)}`,
    )
  }
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new FST_PERF_TIMING_INVALID_OPTION(
      `setupClusterMetrics: path must start with "/", got ${String(path)}`,
    )
  }
  if (guard !== undefined && typeof guard !== 'function') {
    throw new FST_PERF_TIMING_INVALID_OPTION('setupClusterMetrics: guard must be a function')
  }
  const aggregator = new AggregatorRegistry()
  const server = createServer((request, response) => {
    const url = request.url ?? '/'
    const pathname = url.includes('?') ? url.slice(0, url.indexOf('?')) : url
    if (
      pathname !== path ||
      (request.method !== 'GET' && request.method !== 'HEAD') ||
      (guard && !guard(request))
    ) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n')
      return
    }
    aggregator.clusterMetrics().then(
      (body) => {
        response.writeHead(200, { 'content-type': aggregator.contentType })
        response.end(request.method === 'HEAD' ? undefined : body)
      },
      (error: Error) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        response.end(`# cluster metrics unavailable: ${error.message}\n`)
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${hostPart}:${address.port}${path}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      }),
  }
}

/**
 * Worker side: answer the primary's requests with this registry. prom-client keeps one list of
 * registries per process, so the last app registered with `cluster: true` in a worker wins.
 */
export function serveRegistryToPrimary(registry: MetricsRegistry): void {
  if (!cluster.isWorker) return
  AggregatorRegistry.setRegistries([registry as Registry])
  // Constructing an AggregatorRegistry adds prom-client's IPC listener (once per process).
  new AggregatorRegistry()
}
