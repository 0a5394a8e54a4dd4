import type { Hex } from 'viem'
import type { Storage } from '../storage/openStorage.js'

const CHANNEL = 'wallet_backend_deliveries'
/** PostgreSQL caps a NOTIFY payload at 8000 bytes; client ids are 42 characters plus a comma. */
const IDS_PER_NOTIFY = 150

/**
 * Wakes the streams of clients that have new items. It goes through the database's
 * LISTEN/NOTIFY — in process on PGlite, across instances on PostgreSQL — so every instance serving
 * a client's stream hears of its items, whichever instance queued them. No stream polls.
 */
export class Notifier {
  readonly #subscribers = new Map<Hex, Set<() => void>>()
  #unlisten: (() => Promise<void>) | undefined

  constructor(private readonly storage: Storage) {}

  async start(): Promise<void> {
    this.#unlisten = await this.storage.listen(CHANNEL, (payload) => {
      for (const id of payload.split(',')) {
        for (const wake of this.#subscribers.get(id as Hex) ?? []) wake()
      }
    })
  }

  async stop(): Promise<void> {
    await this.#unlisten?.()
  }

  /** Calls `wake` whenever the client has new items, until the returned function is called. */
  subscribe(clientId: Hex, wake: () => void): () => void {
    const set = this.#subscribers.get(clientId) ?? new Set<() => void>()
    this.#subscribers.set(clientId, set)
    set.add(wake)
    return () => {
      set.delete(wake)
      if (set.size === 0) this.#subscribers.delete(clientId)
    }
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  /** Announces new items of these clients (after the transaction that queued them committed). */
  async notify(clientIds: Iterable<Hex>): Promise<void> {
    const ids = [...new Set(clientIds)]
    for (let i = 0; i < ids.length; i += IDS_PER_NOTIFY) {
      await this.storage.notify(CHANNEL, ids.slice(i, i + IDS_PER_NOTIFY).join(','))
    }
  }
}
