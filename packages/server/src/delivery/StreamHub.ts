import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import { bytesToHex, type Hex } from 'viem'
import type { DB } from '../storage/schema.js'
import { urgently } from '../storage/urgency.js'
import { DeliveredItems } from './DeliveredItems.js'
import { type ChainPosition, type DeliveryItem, readDeliveriesOfMany } from './deliveryStore.js'
import type { Notifier } from './Notifier.js'

/**
 * One connected stream: where it stands, and how to hand it items. `send` resolves to how many of
 * them it took, in order: a stream that is full takes fewer and wakes its client again once it
 * has room, so one slow consumer never holds up the others.
 */
export type StreamSession = {
  clientId: Uint8Array
  position: number
  send(items: DeliveryItem[]): Promise<number>
  fail(error: unknown): void
}

const PAGE = 200

/**
 * Serves every connected stream of this instance. A wake-up (the notifier, or a new stream) marks
 * clients as due; due clients are read together — three statements for however many streams one
 * block woke — and each stream gets what lies after its own position, in cursor order.
 */
export class StreamHub {
  readonly #sessions = new Map<Hex, Set<StreamSession>>()
  readonly #unsubscribe = new Map<Hex, () => void>()
  #due = new Set<Hex>()
  #flushing: Promise<void> | undefined
  readonly #streams: Gauge
  /** First deliveries of this instance, streamed or fetched. */
  readonly delivered: DeliveredItems

  constructor(
    private readonly options: {
      db: Kysely<DB>
      notifier: Notifier
      chain: () => ChainPosition
      logger: Logger
      metrics: Registry
    },
  ) {
    this.#streams = new Gauge({
      name: 'wallet_backend_streams',
      help: 'Connected delivery streams',
      registers: [options.metrics],
    })
    this.delivered = new DeliveredItems(options.metrics)
  }

  /** Streams open for a client on this instance. */
  count(clientId: Hex): number {
    return this.#sessions.get(clientId)?.size ?? 0
  }

  attach(session: StreamSession): () => void {
    const id = bytesToHex(session.clientId)
    const set = this.#sessions.get(id) ?? new Set()
    this.#sessions.set(id, set)
    set.add(session)
    if (!this.#unsubscribe.has(id))
      this.#unsubscribe.set(
        id,
        this.options.notifier.subscribe(id, () => this.wake(id)),
      )
    this.#streams.inc()
    this.wake(id)
    return () => {
      if (!set.delete(session)) return
      this.#streams.dec()
      if (set.size === 0) {
        this.#sessions.delete(id)
        this.#unsubscribe.get(id)?.()
        this.#unsubscribe.delete(id)
      }
    }
  }

  wake(clientId: Hex): void {
    this.#due.add(clientId)
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined
      if (this.#due.size > 0) this.wake([...this.#due][0]!)
    })
  }

  async #flush(): Promise<void> {
    // Let the wake-ups of one notification gather before reading.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.#due.size > 0) {
      const due = this.#due
      this.#due = new Set()
      const requests: { clientId: Uint8Array; after: number; sessions: StreamSession[] }[] = []
      for (const id of due) {
        const sessions = [...(this.#sessions.get(id) ?? [])]
        if (sessions.length === 0) continue
        const after = Math.min(...sessions.map((session) => session.position))
        requests.push({ clientId: sessions[0]!.clientId, after, sessions })
      }
      if (requests.length === 0) return
      let items: Map<Hex, DeliveryItem[]>
      try {
        items = await urgently(() =>
          readDeliveriesOfMany(this.options.db, requests, {
            limit: PAGE,
            chain: this.options.chain(),
            onDelivered: (queuedAt) => this.delivered.record(queuedAt),
          }),
        )
      } catch (error) {
        this.options.logger.warn({ err: error }, 'reading items for streams failed')
        for (const request of requests) for (const session of request.sessions) session.fail(error)
        return
      }
      await Promise.all(
        requests.map(async (request) => {
          const id = bytesToHex(request.clientId)
          const found = items.get(id) ?? []
          let full = false
          for (const session of request.sessions) {
            const fresh = found.filter((item) => item.cursor > session.position)
            if (fresh.length === 0) continue
            try {
              const taken = await session.send(fresh)
              if (taken > 0) session.position = fresh[Math.min(taken, fresh.length) - 1]!.cursor
              if (taken < fresh.length) full = true
            } catch (error) {
              session.fail(error)
            }
          }
          // More pages to come, unless a stream is full: that one wakes its client when it drains.
          if (found.length >= PAGE && !full) this.#due.add(id)
        }),
      )
    }
  }
}
