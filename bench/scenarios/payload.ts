/**
 * The response every scenario serves: one product as a deterministic ~2 KB JSON string, the size
 * of a typical API detail response. It is computed once at import, so the `limit` scenario pays
 * for nothing but HTTP and routing.
 */

import { setTimeout as sleep } from 'node:timers/promises'

/** Content type sent by every scenario (a string payload with this type is sent as is by Fastify). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/** Delay of the simulated database call, in milliseconds. */
export const DATABASE_LATENCY_MS = 20

function buildProduct(): string {
  const product = {
    id: 1,
    sku: 'FP-000001',
    name: 'Espresso grinder with 40 grind settings',
    description:
      'Conical burr grinder for espresso and filter coffee. Stepless adjustment, low retention, ' +
      'anti-static chute and a timer that remembers the last dose.',
    price: { amount: 24900, currency: 'EUR', vatRate: 0.2 },
    stock: { available: 42, warehouse: 'PAR-1', restockDate: '2026-12-01' },
    categories: ['kitchen', 'coffee', 'grinders'],
    // Deterministic filler rows, so the body is the same bytes in every process and every run.
    reviews: Array.from({ length: 15 }, (_, i) => ({
      id: 1000 + i,
      rating: (i % 5) + 1,
      author: `customer-${i}`,
      title: `Review number ${i} of this grinder`,
      date: `2026-0${(i % 9) + 1}-1${i % 10}`,
    })),
  }
  return JSON.stringify(product)
}

/** The 2 KB product body, as a string. */
export const PAYLOAD: string = buildProduct()

/** Its size in bytes, which the harness checks before measuring. */
export const PAYLOAD_BYTES: number = Buffer.byteLength(PAYLOAD)

/**
 * The simulated slow database: resolves to {@link PAYLOAD} after {@link DATABASE_LATENCY_MS}.
 * A timer, not a busy loop, so it costs latency and almost no CPU, like a real network call.
 */
export async function fetchProductFromDatabase(): Promise<string> {
  await sleep(DATABASE_LATENCY_MS)
  return PAYLOAD
}
