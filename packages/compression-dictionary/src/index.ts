// @fastify-perf/compression-dictionary: the protocol pieces of Compression Dictionary Transport
// (RFC 9842), shared by @fastify-perf/static (dictionary variants of files, made on request or
// read from precomputed files), @fastify-perf/compress's precompress CLI (those files, named as
// precomputed.ts says) and, later, its dynamic responses. No plugin here: plugins never import each
// other (DESIGN.md), so the code both need lives in a library of its own, as @fastify-perf/cache's
// entry codec serves the store packages.

export {
  brotliOptions,
  DCB_MAGIC,
  DCZ_MAGIC,
  DICTIONARY_HASH_BYTES,
  type DictionaryDecodeOptions,
  type DictionaryEncodeOptions,
  type DictionaryEncoding,
  type DictionarySupport,
  decodeWithDictionary,
  dictionaryHash,
  dictionaryHeaderLength,
  dictionarySupport,
  encodeWithDictionary,
  encodeWithDictionarySync,
  hasDictionaryHeader,
  zstdOptions,
} from './codec.js'
export { FST_PERF_DICTIONARY_INVALID_FIELD } from './errors.js'
export {
  cacheableAsDictionary,
  matchPatternProblem,
  parseAvailableDictionary,
  parseDictionaryId,
  serializeUseAsDictionary,
  type UseAsDictionary,
} from './fields.js'
export { fingerprintPattern, isFingerprinted } from './fingerprint.js'
export { chooseDictionaryEncoding, type DictionaryRequestFields, dictionaryReadable } from './negotiation.js'
export {
  DEFAULT_DICTIONARY_EXTENSIONS,
  dictionaryVersionPattern,
  PRECOMPUTED_HASH_CHARS,
  PRECOMPUTED_VARIANT_SUFFIX,
  precomputedVariantSuffix,
} from './precomputed.js'
