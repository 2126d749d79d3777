import createError, { type FastifyErrorConstructor } from '@fastify/error'

// Written-out types with FastifyErrorConstructor imported by name: see packages/static/src/errors.ts
// for why (the inferred type names a namespace that only some module resolutions can see).
type CodedErrorClass<
  Code extends string,
  StatusCode extends number,
  Args extends unknown[],
> = FastifyErrorConstructor<{ code: Code; statusCode: StatusCode }, Args>

/**
 * A `Use-As-Dictionary` field given to {@link serializeUseAsDictionary} cannot be sent: a `match`
 * that is not a same-origin path pattern or uses regular-expression groups, an `id` too long or not
 * ASCII, an unknown `match-dest` form. Plugins validate their options with it at register time.
 */
export const FST_PERF_DICTIONARY_INVALID_FIELD: CodedErrorClass<
  'FST_PERF_DICTIONARY_INVALID_FIELD',
  500,
  [field: string, problem: string]
> = createError('FST_PERF_DICTIONARY_INVALID_FIELD', 'Invalid Use-As-Dictionary "%s": %s', 500, TypeError)
