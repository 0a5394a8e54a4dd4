import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { Notifier } from '../delivery/Notifier.js'
import type { DB } from '../storage/schema.js'
import { takeRpcFilterChanges, touchRpcFilters } from './rpcFilterStore.js'

/** One subscription held by a connection: how to hand it a notification's result. */
export type HeldSubscription = {
  id: Hex
  clientId: Hex
  /** False once the connection cannot take more: changes stay unread for a resume. */
  open(): boolean
  send(result: unknown): void
}

const PAGE = 500
/** Held subscriptions are marked in use this often, so that idle expiry spares them. */
const TOUCH_MS = 60_000

/**
 * Pushes the changes of every subscription held on this instance. The chain listener wakes the
 * subscriptions' clients (through the notifier, so across instances too); each woken subscription
 * reads what follows its last notification and advances past it in the same transaction, so a
 * connection that drops and is resumed goes on exactly after the last notification it was sent.
 */
export class SubscriptionHub {
  readonly #byClient = new Map<Hex, Set<HeldSubscription>>()
  readonly #unsubscribe = new Map<Hex, () => void>()
  readonly #draining = new Map<Hex, Promise<void>>()
  readonly #again = new Set<Hex>()
  readonly #timer: NodeJS.Timeout

  constructor(private readonly options: { db: Kysely<DB>; notifier: Notifier; logger: Logger }) {
    this.#timer = setInterval(() => {
      const ids = [...this.#byClient.values()].flatMap((set) => [...set].map((s) => s.id))
      touchRpcFilters(options.db, ids).catch((error: unknown) =>
        options.logger.warn({ err: error }, 'could not mark held subscriptions in use'),
      )
    }, TOUCH_MS)
    this.#timer.unref()
  }

  hold(subscription: HeldSubscription): () => void {
    const { clientId } = subscription
    const set = this.#byClient.get(clientId) ?? new Set()
    this.#byClient.set(clientId, set)
    // Resumed on a new connection before the old one was seen to drop: the new one has it.
    for (const other of set) if (other.id === subscription.id) set.delete(other)
    set.add(subscription)
    if (!this.#unsubscribe.has(clientId))
      this.#unsubscribe.set(
        clientId,
        this.options.notifier.subscribe(clientId, () => this.wake(clientId)),
      )
    this.#drain(subscription)
    return () => {
      set.delete(subscription)
      if (set.size > 0) return
      this.#byClient.delete(clientId)
      this.#unsubscribe.get(clientId)?.()
      this.#unsubscribe.delete(clientId)
    }
  }

  wake(clientId: Hex): void {
    for (const subscription of this.#byClient.get(clientId) ?? []) this.#drain(subscription)
  }

  /** One drain per subscription at a time; a wake-up during one makes it go round again. */
  #drain(subscription: HeldSubscription): void {
    if (this.#draining.has(subscription.id)) {
      this.#again.add(subscription.id)
      return
    }
    const run = (async () => {
      do {
        this.#again.delete(subscription.id)
        for (;;) {
          if (!subscription.open()) return
          const changes = await takeRpcFilterChanges(this.options.db, subscription.id, PAGE)
          for (const change of changes) subscription.send(change.payload)
          if (changes.length < PAGE) break
        }
      } while (this.#again.has(subscription.id))
    })()
      .catch((error: unknown) => this.options.logger.debug({ err: error }, 'subscription drain stopped'))
      .finally(() => this.#draining.delete(subscription.id))
    this.#draining.set(subscription.id, run)
  }
}
