import type { TimingMetrics } from './plugin.js'
import { fastifyPerfTiming } from './plugin.js'
import type { ReplyTiming } from './server-timing.js'

export { channelNames } from './channels.js'
export { type ClusterMetricsOptions, type ClusterMetricsServer, setupClusterMetrics } from './cluster.js'
export {
  FST_PERF_TIMING_ALREADY_REGISTERED,
  FST_PERF_TIMING_FORBIDDEN,
  FST_PERF_TIMING_INVALID_ENTRY,
  FST_PERF_TIMING_INVALID_OPTION,
  FST_PERF_TIMING_NOT_PRIMARY,
  FST_PERF_TIMING_OTEL_UNAVAILABLE,
  FST_PERF_TIMING_STATSD_UNAVAILABLE,
} from './errors.js'
export { NO_ROUTE, UNMATCHED_ROUTE } from './metrics.js'
export type {
  Duration,
  ExposePredicate,
  FastifyPerfTimingOptions,
  MetricsOptions,
  OtelMeterProvider,
  OtelOptions,
  OtelTracerProvider,
  ServerTimingOptions,
  StatsdClient,
  StatsdOptions,
} from './options.js'
export { asyncContextFrameInUse, OTEL_DURATION_BUCKETS } from './options.js'
export {
  createOtelMetricProducer,
  type OtelCollectionResult,
  type OtelEmptyResource,
  type OtelHistogramMetricData,
  type OtelHrTime,
  type OtelMetricProducer,
  type OtelMetricProducerOptions,
} from './otel-producer.js'
export type { TimingMetrics } from './plugin.js'
export { ReplyTiming, toQuotedString, toToken } from './server-timing.js'
export type { SlowRequestLog } from './slow-log.js'
export { fastifyPerfTiming }
export default fastifyPerfTiming

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Your own entries in `Server-Timing` and in the slow-request log (`@fastify-perf/timing`).
     * @example
     * await reply.timing.measure('db', () => db.query(sql))
     */
    timing: ReplyTiming
  }
  interface FastifyInstance {
    /** The Prometheus registry and StatsD client of `@fastify-perf/timing`. */
    timing: TimingMetrics
  }
  interface FastifyContextConfig {
    /**
     * `false` leaves this route out of `@fastify-perf/timing`: no metrics, no `Server-Timing`,
     * no slow-request log (health checks, the metrics route itself). @default true
     */
    timing?: boolean
  }
}
