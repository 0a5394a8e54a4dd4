/**
 * A stream's acknowledgements, at most one transaction in flight: an ack that arrives while one
 * runs is merged into the next (only the highest cursor matters), so a client that sends acks
 * faster than the database commits them costs one transaction at a time, not one per message.
 */
export class AckCoalescer {
  #running = false
  #pending: number | undefined

  constructor(private readonly apply: (cursor: number) => Promise<void>) {}

  /** Acknowledges up to `cursor`: now, or merged into the next run. */
  push(cursor: number): void {
    if (this.#running) this.#pending = Math.max(this.#pending ?? cursor, cursor)
    else void this.#run(cursor)
  }

  async #run(cursor: number): Promise<void> {
    this.#running = true
    try {
      await this.apply(cursor)
    } finally {
      this.#running = false
      const next = this.#pending
      this.#pending = undefined
      if (next !== undefined) void this.#run(next)
    }
  }
}
