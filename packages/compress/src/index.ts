import type { RouteCompressConfig } from './dictionaries.js'
import { fastifyPerfCompress } from './plugin.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: never compress this route's responses (for BREACH, a secret next to reflected
     * input; see docs/compression.md). `true`: compress it even when the plugin is registered
     * with `global: false`. An object: compress it, with the named dictionary of the plugin's
     * `dictionaries` option for clients that hold it (`{ dictionary: 'api-v1' }`).
     */
    compress?: boolean | RouteCompressConfig
  }
}

export {
  type CompressEncodedEvent,
  type CompressSkippedEvent,
  channelNames,
  type EncodedCoding,
  type Encoding,
} from './channels.js'
export type { DictionaryOptions, RouteCompressConfig } from './dictionaries.js'
export {
  FST_PERF_COMPRESS_ALREADY_REGISTERED,
  FST_PERF_COMPRESS_INVALID_DIRECTORY,
  FST_PERF_COMPRESS_INVALID_OPTION,
  FST_PERF_COMPRESS_INVALID_ROUTE_CONFIG,
  FST_PERF_COMPRESS_INVALID_SIZE,
} from './errors.js'
export type {
  BreachOptions,
  BrotliSettings,
  FastifyPerfCompressOptions,
  GzipSettings,
  MemoOptions,
  ZstdSettings,
} from './options.js'
export {
  type PrecompressEncoding,
  type PrecompressOptions,
  type PrecompressProgress,
  type PrecompressResult,
  precompress,
} from './precompress.js'
export type {
  PrecompressDictionaryOptions,
  PrecompressDictionaryResult,
} from './precompress-dictionaries.js'
export type { SkipReason } from './skip-rules.js'
export type { Size } from './units.js'
export { fastifyPerfCompress }
export default fastifyPerfCompress
