import { setTimeout as sleep } from 'node:timers/promises'

/** A product of the demo catalog. */
export interface Product {
  id: number
  name: string
  category: string
  /** Price in cents, so the demo never shows floating-point money. */
  priceCents: number
  description: string
}

/** Options of {@link CatalogDb}. */
export interface CatalogDbOptions {
  /** Simulated latency of every query, in milliseconds. Default `50`. */
  latencyMs?: number
  /** How many products to generate. Default `50`. */
  productCount?: number
}

/** The categories the generated products are spread over, in order. */
export const CATEGORIES: readonly string[] = Object.freeze(['books', 'games', 'garden', 'kitchen', 'music'])

const ADJECTIVES = ['Compact', 'Classic', 'Deluxe', 'Handy', 'Quiet', 'Rugged', 'Smart', 'Vintage']
const NOUNS: Record<string, readonly string[]> = {
  books: ['Novel', 'Cookbook', 'Atlas', 'Field Guide'],
  games: ['Board Game', 'Puzzle', 'Card Deck', 'Dice Set'],
  garden: ['Trowel', 'Planter', 'Hose Reel', 'Seed Kit'],
  kitchen: ['Kettle', 'Skillet', 'Knife', 'Grinder'],
  music: ['Ukulele', 'Metronome', 'Songbook', 'Harmonica'],
}

/**
 * Builds the product list. Deterministic (no randomness), so tests and the README
 * can name a product by id and get the same one on every machine.
 */
export function generateProducts(count = 50): Product[] {
  const products: Product[] = []
  for (let id = 1; id <= count; id++) {
    const category = CATEGORIES[(id - 1) % CATEGORIES.length]!
    const nouns = NOUNS[category]!
    const name = `${ADJECTIVES[id % ADJECTIVES.length]} ${nouns[id % nouns.length]}`
    products.push({
      id,
      name,
      category,
      priceCents: 499 + ((id * 733) % 9500),
      description: `${name} number ${id}, from the ${category} shelf of the fastify-perf demo store.`,
    })
  }
  return products
}

/**
 * A stand-in for a real database: an in-memory table behind an artificial delay.
 * Every query waits `latencyMs` before answering, like a network round trip plus a
 * query plan would, so the effect of caching is visible from a terminal.
 */
export class CatalogDb {
  /** Simulated latency of every query, in milliseconds. */
  readonly latencyMs: number
  readonly #products: readonly Product[]
  #queries = 0

  constructor(options: CatalogDbOptions = {}) {
    const latencyMs = options.latencyMs ?? 50
    if (!Number.isFinite(latencyMs) || latencyMs < 0) {
      throw new TypeError(`latencyMs must be a finite number >= 0, got ${latencyMs}`)
    }
    this.latencyMs = latencyMs
    this.#products = Object.freeze(generateProducts(options.productCount ?? 50).map((p) => Object.freeze(p)))
  }

  /** How many queries reached the database since it was created. */
  get queryCount(): number {
    return this.#queries
  }

  /** All products, or those of one category, ordered by id. */
  async listProducts(filter: { category?: string | undefined } = {}): Promise<Product[]> {
    await this.#roundTrip()
    const { category } = filter
    return this.#products.filter((p) => category === undefined || p.category === category)
  }

  /** One product by id, or `null` when there is none (a value the cache can store). */
  async getProduct(id: number): Promise<Product | null> {
    await this.#roundTrip()
    return this.#products.find((p) => p.id === id) ?? null
  }

  async #roundTrip(): Promise<void> {
    this.#queries++
    if (this.latencyMs > 0) await sleep(this.latencyMs)
  }
}
