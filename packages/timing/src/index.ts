import { fastifyPerfTiming } from './plugin.js'

export { FST_PERF_TIMING_INVALID_OPTION } from './errors.js'
export type { FastifyPerfTimingOptions } from './options.js'
export { fastifyPerfTiming }
export default fastifyPerfTiming
