import type { DeliveryKind } from '@wallet-backend/sdk/protocol'
import type { Insertable, Kysely, Transaction } from 'kysely'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { type Hex, hexToBytes } from 'viem'
import type { StageTransitions } from '../clients/lifecycle/StageTransitions.js'
import type { PlanBook } from '../clients/plans/PlanBook.js'
import type { UsageMeter } from '../clients/usage/UsageMeter.js'
import type { ClientDeliveriesTable, DB } from '../storage/schema.js'
import { allocateCursors, type ClientBatch, insertItems, markActive, markDormant } from './deliveryStore.js'
import type { Notifier } from './Notifier.js'
import type { QueuePayloads } from './queuePayloads.js'

/** An item of kind `K` to queue for one client; the queue gives it its cursor. */
export type QueueItemOf<K extends DeliveryKind> = {
  clientId: Hex
  kind: K
  clientContractId: number | null
  filterId: number | null
  blockNumber: number | null
  blockHash: Hex | null
  txHash: Hex | null
  txIndex: number | null
  logIndex: number | null
  /** What the kind stores: a payload of the wrong shape for its kind does not compile. */
  payload: QueuePayloads[K]
  /** The account interest of an `account` item. */
  clientAccountId?: number | null
}

/** An item to queue, of any kind: a union by `kind`. */
export type QueueItem = { [K in DeliveryKind]: QueueItemOf<K> }[DeliveryKind]

/** The queue's side of one database transaction: every write to a client's queue or stage goes here. */
export interface QueueWriter {
  readonly trx: Transaction<DB>
  /**
   * Gives each item the next cursor of its client and stores it; clients that are not active get
   * nothing (but a dormant client still gets its `removed` notices: what it was told must be taken
   * back). A client whose backlog this takes above its plan's bound goes dormant (the backlog rule).
   */
  enqueue(items: readonly QueueItem[]): Promise<void>
  /** Active clients stop being matched from the first block not matched yet; returns those that were active. */
  makeDormant(clientIds: readonly Hex[], at?: Date): Promise<Hex[]>
  /**
   * A dormant (or pruned) client is active again, with a `gap` item naming the blocks it missed
   * (up to `head`); undefined if it was not away.
   */
  wake(clientId: Hex, head: number): Promise<{ fromBlock: number; toBlock: number } | undefined>
}

/** What one transaction did to the queue, told to the rest of the process once it committed. */
type Effects = { touched: Set<Hex>; dormant: Set<Hex> }

/**
 * The one writer of the delivery queue. Every producer of items — matching in the follower's
 * transaction, back-fills, the deployment sweep, contract state, submissions, waking a client —
 * writes through a `QueueWriter`, which allocates cursors and enforces the backlog rule; what a
 * transaction queued is announced (streams woken, dormant clients taken out of the live indexes)
 * only after it committed (docs/architecture.md, invariant 3).
 */
export class DeliveryQueue {
  readonly #db: Kysely<DB>
  readonly #notifier: Notifier
  readonly #log: Logger
  readonly #usage: UsageMeter | undefined
  readonly #plans: Pick<PlanBook, 'get'> | undefined
  readonly #transitions: StageTransitions | undefined
  readonly #onDormant: ((clientIds: readonly Hex[]) => void) | undefined
  readonly #queued: Counter<'kind'>
  /** The first block live matching has not matched yet: where a client made dormant now misses from. */
  #nextBlock = 0
  /** The follower's batch: its transaction is the follower's, and so is its commit. */
  #batch: { trx: Transaction<DB>; effects: Effects } | undefined

  constructor(options: {
    db: Kysely<DB>
    notifier: Notifier
    logger: Logger
    metrics: Registry
    usage?: UsageMeter
    /** Bounds the backlog of each client by its plan; without it the backlog is not bounded. */
    plans?: Pick<PlanBook, 'get'>
    /** Counts the clients the backlog rule made dormant. */
    transitions?: StageTransitions
    /** After the commit that made them dormant: take these clients out of every live index. */
    onDormant?: (clientIds: readonly Hex[]) => void
  }) {
    this.#db = options.db
    this.#notifier = options.notifier
    this.#log = options.logger.child({ component: 'delivery' })
    this.#usage = options.usage
    this.#plans = options.plans
    this.#transitions = options.transitions
    this.#onDormant = options.onDormant
    this.#queued = new Counter({
      name: 'wallet_backend_delivery_items_queued_total',
      help: 'Items queued for clients by kind',
      labelNames: ['kind'],
      registers: [options.metrics],
    })
  }

  get nextBlock(): number {
    return this.#nextBlock
  }

  /** Where live matching stands; the delivery listener moves it as batches are matched or withdrawn. */
  set nextBlock(block: number) {
    this.#nextBlock = block
  }

  /** Runs `fn` in a transaction of its own; what it queued is announced once it committed. */
  async transaction<T>(fn: (queue: QueueWriter) => Promise<T>): Promise<T> {
    const effects: Effects = { touched: new Set(), dormant: new Set() }
    const result = await this.#db.transaction().execute((trx) => fn(this.#writer(trx, effects)))
    this.#publish(effects)
    return result
  }

  /**
   * The writer of the follower's batch, whose transaction `trx` the follower commits: every
   * listener of the batch gets the same one, and `batchCommitted` announces what they queued.
   */
  batch(trx: Transaction<DB>): QueueWriter {
    // A batch whose transaction failed before its commit queued nothing and made nobody dormant.
    if (this.#batch?.trx !== trx) this.#batch = { trx, effects: { touched: new Set(), dormant: new Set() } }
    return this.#writer(trx, this.#batch.effects)
  }

  /** After the follower committed the batch's transaction. */
  batchCommitted(): void {
    const batch = this.#batch
    this.#batch = undefined
    if (batch) this.#publish(batch.effects)
  }

  #publish({ touched, dormant }: Effects): void {
    if (dormant.size > 0) this.#onDormant?.([...dormant])
    if (touched.size === 0) return
    this.#notifier.notify(touched).catch((error: unknown) => this.#log.warn({ err: error }, 'notify failed'))
  }

  #writer(trx: Transaction<DB>, effects: Effects): QueueWriter {
    const makeDormant = async (clientIds: readonly Hex[], at = new Date()) => {
      const made = await markDormant(trx, clientIds, this.#nextBlock, at)
      for (const id of made) effects.dormant.add(id)
      return made
    }
    const enqueue = async (items: readonly QueueItem[]) => {
      if (items.length === 0) return
      const overflowing = await this.#enqueue(trx, items, effects)
      if (overflowing.length === 0) return
      const made = await makeDormant(overflowing)
      this.#transitions?.count('dormant', 'backlog', made.length)
      this.#log.warn(
        { clients: made.length, first: made[0] },
        'backlog full: clients made dormant until they acknowledge',
      )
    }
    return {
      trx,
      enqueue,
      makeDormant,
      async wake(clientId, head) {
        const away = await markActive(trx, clientId)
        if (!away) return undefined
        const gap = { fromBlock: away.awayFrom, toBlock: head }
        // Of no block: a reorg must not take it back.
        await enqueue([
          {
            clientId,
            kind: 'gap',
            clientContractId: null,
            filterId: null,
            blockNumber: null,
            blockHash: null,
            txHash: null,
            txIndex: null,
            logIndex: null,
            payload: gap,
          },
        ])
        return gap
      },
    }
  }

  /** Stores the items; returns the clients whose backlog they took above their plan's bound. */
  async #enqueue(trx: Transaction<DB>, items: readonly QueueItem[], effects: Effects): Promise<Hex[]> {
    const perClient = new Map<Hex, ClientBatch & { items: QueueItem[] }>()
    let noticesOnly = true
    for (const item of items) {
      const payload = JSON.stringify(item.payload)
      const entry = perClient.get(item.clientId) ?? {
        clientId: item.clientId,
        items: [],
        payloads: [],
        bytes: 0,
      }
      entry.items.push(item)
      entry.payloads.push(payload)
      entry.bytes += payload.length
      perClient.set(item.clientId, entry)
      if (item.kind !== 'removed') noticesOnly = false
    }
    const allocated = await allocateCursors(
      trx,
      [...perClient.values()],
      noticesOnly ? ['active', 'dormant'] : ['active'],
    )
    const rows: Insertable<ClientDeliveriesTable>[] = []
    const overflowing: Hex[] = []
    for (const client of allocated) {
      const entry = perClient.get(client.clientId)!
      const clientBytes = hexToBytes(client.clientId)
      entry.items.forEach((item, offset) => {
        const payload = entry.payloads[offset]!
        rows.push({
          client_id: clientBytes,
          cursor: client.firstCursor + offset,
          kind: item.kind,
          client_contract_id: item.clientContractId,
          filter_id: item.filterId,
          block_number: item.blockNumber,
          block_hash: item.blockHash ? hexToBytes(item.blockHash) : null,
          tx_hash: item.txHash ? hexToBytes(item.txHash) : null,
          tx_index: item.txIndex,
          log_index: item.logIndex,
          payload,
          bytes: payload.length,
          client_account_id: item.clientAccountId ?? null,
        })
        this.#queued.inc({ kind: item.kind })
      })
      this.#usage?.add(client.clientId, 'items_queued', entry.items.length)
      this.#usage?.add(client.clientId, 'bytes_queued', entry.bytes)
      effects.touched.add(client.clientId)
      const plan = this.#plans?.get(client.plan)
      if (
        plan &&
        client.stage === 'active' &&
        (client.backlogItems > plan.backlogItems || client.backlogBytes > plan.backlogBytes)
      )
        overflowing.push(client.clientId)
    }
    await insertItems(trx, rows)
    return overflowing
  }
}
