import { fastifyPerfStatic } from './plugin.js'

export {
  channelNames,
  type StaticInvalidateEvent,
  type StaticServeEvent,
} from './channels.js'
export {
  FST_PERF_STATIC_ALREADY_REGISTERED,
  FST_PERF_STATIC_FORBIDDEN_PATH,
  FST_PERF_STATIC_INVALID_DURATION,
  FST_PERF_STATIC_INVALID_OPTION,
  FST_PERF_STATIC_INVALID_ROOT,
  FST_PERF_STATIC_INVALID_RULE,
  FST_PERF_STATIC_INVALID_SIZE,
} from './errors.js'
export { isFingerprinted } from './fingerprint.js'
export type { Encoding } from './negotiate.js'
export type { FastifyPerfStaticOptions, HotCacheOptions } from './options.js'
export type { CacheControlPolicy, CacheControlValue, CacheRule, DefaultPolicies } from './policy.js'
export type { DotfilesPolicy } from './request-path.js'
export type { Duration, DurationString, HeaderDuration, Size } from './units.js'
export { fastifyPerfStatic }
export default fastifyPerfStatic
