import type { Transaction } from 'kysely'
import type { Hex } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { AccountIndex, AccountMatch } from '../filters/AccountIndex.js'
import type { DB } from '../storage/schema.js'
import type { ItemProducer } from './DeliveryListener.js'
import type { QueueItem, QueueItemOf } from './DeliveryQueue.js'
import type { InternalTransfer, InternalTransfers } from './InternalTransfers.js'
import type { TokenMetadata } from './TokenMetadata.js'

/**
 * Turns the activity of the watched accounts in each stored batch into `account` items, queued
 * with the batch's other items in the follower's transaction — so they share the queue, the
 * cursors, the acks and the reorg withdrawal. What moved is decoded here, once, not on read.
 */
/** What a batch's `prepare` read: the internal transfers of each block, by block hash. */
type Traced = ReadonlyMap<Hex, InternalTransfer[]>

export class AccountActivityProducer implements ItemProducer<Traced>, ChainListener {
  readonly #index: AccountIndex
  readonly #chargeWork: ((work: ReadonlyMap<Hex, number>) => void) | undefined
  readonly #tokens: TokenMetadata | undefined
  readonly #internal: InternalTransfers | undefined

  constructor(options: {
    index: AccountIndex
    /** The matching work of each client's accounts in a batch, for its usage and cost limit. */
    chargeWork?: (work: ReadonlyMap<Hex, number>) => void
    /** Token metadata for an account's first item of each token. */
    tokens?: TokenMetadata
    /** Traces for internal transfers, read only while some account follows them. */
    internal?: InternalTransfers
  }) {
    this.#internal = options.internal
    this.#tokens = options.tokens
    this.#index = options.index
    this.#chargeWork = options.chargeWork
  }

  /** Before the batch's transaction: the metadata of the tokens it moves for watched accounts. */
  async prepareItems(blocks: readonly FetchedBlock[]): Promise<Traced> {
    if (this.#index.size === 0) return new Map()
    const traced = this.#internal && this.#index.wantsInternal ? await this.#internal.read(blocks) : new Map()
    await this.#tokens?.prepare(tokensOf(this.#index.match(blocks)))
    return traced
  }

  async itemsFor(
    trx: Transaction<DB>,
    blocks: readonly FetchedBlock[],
    traced: Traced,
  ): Promise<QueueItem[]> {
    const work = this.#chargeWork ? new Map<Hex, number>() : undefined
    const matches = this.#index.match(blocks, work)
    blocks.forEach(({ block }, blockIndex) => {
      const transfers = traced.get(block.hash)
      if (transfers) matches.push(...this.#index.matchInternal(blockIndex, transfers, work))
    })
    if (work && work.size > 0) this.#chargeWork?.(work)
    const items = accountItems(matches, blocks)
    await this.#tokens?.attach(trx, items)
    return items
  }

  /** Its items are queued through the delivery listener (`itemsFor`). */
  async blocksAdded(): Promise<void> {}

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    await this.#tokens?.forget(
      trx,
      blocks.map((block) => block.hash),
    )
  }
}

/** The token contracts of token and approval matches. */
export function tokensOf(matches: readonly AccountMatch[]): Hex[] {
  const tokens: Hex[] = []
  for (const { activity } of matches) if ('token' in activity) tokens.push(activity.token)
  return tokens
}

/** The queue items of account matches in `blocks`; `extra` joins every item's data (a back-fill's mark). */
export function accountItems(
  matches: readonly AccountMatch[],
  blocks: readonly FetchedBlock[],
  extra: { backfill?: true } = {},
): QueueItemOf<'account'>[] {
  return matches.map((match) => {
    const { block } = blocks[match.blockIndex]!
    return {
      clientId: match.clientId,
      kind: 'account',
      clientContractId: null,
      clientAccountId: match.accountId,
      filterId: null,
      blockNumber: Number(block.number),
      blockHash: block.hash,
      txHash: block.transactions[match.txIndex]!.hash,
      txIndex: match.txIndex,
      logIndex: match.logIndex,
      payload: { account: match.account, ...match.activity, ...extra },
    }
  })
}
