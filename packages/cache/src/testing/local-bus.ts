import { EventEmitter } from 'node:events'
import type { BusMessage, InvalidationBus } from '../bus.js'

/**
 * An invalidation bus between caches in one process, for tests and examples of the L1 tier
 * without a Redis. Buses created from the same `LocalBus.network()` reach each other;
 * `network.up = false` simulates an outage (messages are dropped and every bus reports down).
 */
export class LocalBus implements InvalidationBus {
  readonly name = 'local'
  readonly #network: LocalBusNetwork
  #listener: ((channel: string, message: BusMessage) => void) | undefined
  #onStatus: ((up: boolean) => void) | undefined

  /** A fresh network that buses can join. */
  static network(): LocalBusNetwork {
    return new LocalBusNetwork()
  }

  constructor(network: LocalBusNetwork) {
    this.#network = network
  }

  publish(channel: string, message: BusMessage): void {
    // Structured clone: a receiver must never share objects with the sender.
    if (this.#network.up) this.#network.emitter.emit('message', channel, structuredClone(message))
  }

  subscribe(
    channel: string,
    onMessage: (message: BusMessage) => void,
    onStatus: (up: boolean) => void,
  ): void {
    this.#listener = (c, message) => {
      if (c === channel) onMessage(message)
    }
    this.#onStatus = onStatus
    this.#network.emitter.on('message', this.#listener)
    this.#network.emitter.on('status', onStatus)
    onStatus(this.#network.up)
  }

  close(): void {
    if (this.#listener) this.#network.emitter.off('message', this.#listener)
    if (this.#onStatus) this.#network.emitter.off('status', this.#onStatus)
    this.#listener = undefined
    this.#onStatus = undefined
  }
}

/** What buses of one {@link LocalBus.network} share. */
export class LocalBusNetwork {
  readonly emitter = new EventEmitter().setMaxListeners(0)
  #up = true

  get up(): boolean {
    return this.#up
  }

  /** Takes the network down (messages dropped, buses report down) or back up. */
  set up(value: boolean) {
    if (value === this.#up) return
    this.#up = value
    this.emitter.emit('status', value)
  }

  /** A new bus on this network. */
  bus(): LocalBus {
    return new LocalBus(this)
  }
}
