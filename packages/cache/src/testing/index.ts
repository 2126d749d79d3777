// `@fastify-perf/cache/testing`: the store conformance suite, for our stores and yours; a
// failure-injecting wrapper for outage tests without mocks; an in-process invalidation bus; the
// values a round-trip test writes and those the default serializer refuses.
export { type ChaosMode, ChaosStore } from './chaos-store.js'
export { LocalBus, LocalBusNetwork } from './local-bus.js'
export { type StoreSuiteCase, type StoreSuiteOptions, storedEntry, storeSuite } from './store-suite.js'
export { type RefusedValueCase, refusedValues, supportedValues, type ValueCase } from './value-cases.js'
