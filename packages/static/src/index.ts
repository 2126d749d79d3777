import { fastifyPerfStatic } from './plugin.js'

export { FST_PERF_STATIC_INVALID_OPTION } from './errors.js'
export type { FastifyPerfStaticOptions } from './options.js'
export { fastifyPerfStatic }
export default fastifyPerfStatic
