import { Counter, Histogram, type Registry } from 'prom-client'

/**
 * Items handed to their client for the first time (on a stream or a fetch), and how long each
 * waited in its queue before that: the delivery latency an operator watches.
 */
export class DeliveredItems {
  readonly #count: Counter
  readonly #latency: Histogram

  constructor(metrics: Registry) {
    this.#count = new Counter({
      name: 'wallet_backend_delivery_items_delivered_total',
      help: 'Items delivered to their client for the first time',
      registers: [metrics],
    })
    this.#latency = new Histogram({
      name: 'wallet_backend_delivery_latency_seconds',
      help: 'Time from queuing an item to its first delivery',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [metrics],
    })
  }

  /** Items first delivered now, by when they were queued. */
  record(queuedAt: readonly Date[]): void {
    if (queuedAt.length === 0) return
    const now = Date.now()
    this.#count.inc(queuedAt.length)
    for (const at of queuedAt) this.#latency.observe(Math.max(0, now - at.getTime()) / 1000)
  }
}
