import { fastifyPerfCompress } from './plugin.js'

export { FST_PERF_COMPRESS_INVALID_OPTION } from './errors.js'
export type { FastifyPerfCompressOptions } from './options.js'
export { fastifyPerfCompress }
export default fastifyPerfCompress
