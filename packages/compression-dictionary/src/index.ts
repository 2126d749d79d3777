// @fastify-perf/compression-dictionary: the protocol pieces of Compression Dictionary Transport
// (RFC 9842), shared by @fastify-perf/static (dictionary variants of files) and, later,
// @fastify-perf/compress (dynamic responses) and the precompress CLI. No plugin here: plugins
// never import each other (DESIGN.md), so the code both need lives in a library of its own, as
// @fastify-perf/cache's entry codec serves the store packages.

export {
  brotliOptions,
  DCB_MAGIC,
  DCZ_MAGIC,
  DICTIONARY_HASH_BYTES,
  type DictionaryEncodeOptions,
  type DictionaryEncoding,
  type DictionarySupport,
  dictionaryHash,
  dictionaryHeaderLength,
  dictionarySupport,
  encodeWithDictionary,
  zstdOptions,
} from './codec.js'
export { FST_PERF_DICTIONARY_INVALID_FIELD } from './errors.js'
export {
  matchPatternProblem,
  parseAvailableDictionary,
  parseDictionaryId,
  serializeUseAsDictionary,
  type UseAsDictionary,
} from './fields.js'
export { chooseDictionaryEncoding, type DictionaryRequestFields, dictionaryReadable } from './negotiation.js'
