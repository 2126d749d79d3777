// The fingerprint rule (is there a content hash in this name, and where) lives in
// @fastify-perf/compression-dictionary since the precompress CLI of @fastify-perf/compress needs it
// too (to group the versions of an asset the way this plugin does), and plugins never import each
// other. Re-exported here for the policy, the dictionaries and the tests.
export { fingerprintPattern, isFingerprinted } from '@fastify-perf/compression-dictionary'
