// `@fastify-perf/cache/testing`: the store conformance suite, for our stores and yours, and a
// failure-injecting wrapper for outage tests without mocks.
export { type ChaosMode, ChaosStore } from './chaos-store.js'
export { type StoreSuiteCase, type StoreSuiteOptions, storeSuite } from './store-suite.js'
