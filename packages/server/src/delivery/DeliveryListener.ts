import type { Transaction } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { UsageMeter } from '../clients/usage/UsageMeter.js'
import type { FilterIndex, Match, StoredInterest } from '../filters/FilterIndex.js'
import type { DB, DeliveryKind } from '../storage/schema.js'
import { timeSlices } from '../utils/timeSlices.js'
import { rewindBackfills } from './backfill/backfillPosition.js'
import type { AbiDecoder } from './compileAbi.js'
import type { DeliveryQueue, QueueItem, QueueItemOf } from './DeliveryQueue.js'
import type { Deployments } from './Deployments.js'
import { rewindDormancy, withdrawItemsOfBlocks } from './deliveryStore.js'
import { InterestAbis } from './InterestAbis.js'

const CHUNK = 500

/**
 * Something else that derives items from added blocks (contract state, account activity), queued
 * with the matches. `prepareItems` runs before the batch's transaction (node reads); what it returns is
 * handed to `itemsFor`, inside it.
 */
export interface ItemProducer<Prepared = void> {
  prepareItems?(blocks: readonly FetchedBlock[]): Promise<Prepared>
  itemsFor(trx: Transaction<DB>, blocks: readonly FetchedBlock[], prepared: Prepared): Promise<QueueItem[]>
}

/**
 * Matches every stored block against the filter index and queues the matches, per client, with
 * cursors that only grow — inside the follower's transaction, so a block and its items commit
 * together (docs/architecture.md, invariant 2). A reorg withdraws what its blocks produced:
 * undelivered items vanish; items the client already received (or acknowledged) are answered with
 * a `removed` item.
 */
export class DeliveryListener implements ChainListener<unknown[]> {
  readonly #filters: FilterIndex
  readonly #queue: DeliveryQueue
  readonly #deployments: Deployments
  readonly #log: Logger
  readonly #usage: UsageMeter | undefined
  readonly #producers: readonly ItemProducer<unknown>[]
  readonly #chargeFilterWork: ((work: ReadonlyMap<Hex, number>) => void) | undefined
  readonly #abis = new InterestAbis()

  constructor(options: {
    filters: FilterIndex
    queue: DeliveryQueue
    deployments: Deployments
    /** Items of other producers join each batch's matches, sorted into chain order with them. */
    producers?: readonly ItemProducer<unknown>[]
    logger: Logger
    usage?: UsageMeter
    /** The filter work each client's filters cost in a batch, for its cost limit. */
    chargeFilterWork?: (work: ReadonlyMap<Hex, number>) => void
  }) {
    this.#usage = options.usage
    this.#chargeFilterWork = options.chargeFilterWork
    this.#filters = options.filters
    this.#queue = options.queue
    this.#deployments = options.deployments
    this.#producers = options.producers ?? []
    this.#log = options.logger.child({ component: 'delivery' })
  }

  /** An interest in an address without code: its deployment is looked for from now on. */
  watchUndeployed(address: Hex): void {
    this.#deployments.watch(address)
  }

  /** Where live matching stands: the stored head of the chain (before the follower starts). */
  setPosition(head: number | undefined): void {
    this.#queue.nextBlock = head === undefined ? 0 : head + 1
  }

  /**
   * Hands a back-filled interest over to live matching if history was scanned exactly up to where
   * live matching stands (`seam` = first block not scanned). Matching is synchronous at the start of
   * a batch, so once installed the interest is in every batch from `seam` on — no gap, no overlap.
   * 'behind': live matching has moved on; scan up to the new position and try again.
   */
  installAtSeam(interest: StoredInterest, seam: number): 'installed' | 'behind' {
    return this.runAtSeam(seam, () => this.#filters.setInterest(interest))
  }

  /** As installAtSeam, for an index of another kind: `install` runs only if history reached the seam. */
  runAtSeam(seam: number, install: () => void): 'installed' | 'behind' {
    if (seam < this.#queue.nextBlock) return 'behind'
    install()
    return 'installed'
  }

  /** The producers' node reads for the batch, in their order. */
  async prepare(blocks: readonly FetchedBlock[]): Promise<unknown[]> {
    const prepared: unknown[] = []
    for (const producer of this.#producers) prepared.push(await producer.prepareItems?.(blocks))
    return prepared
  }

  async blocksAdded(
    trx: Transaction<DB>,
    blocks: readonly FetchedBlock[],
    prepared: unknown[],
  ): Promise<void> {
    const queue = this.#queue.batch(trx)
    const last = blocks[blocks.length - 1]
    if (last) this.#queue.nextBlock = Number(last.block.number) + 1
    const work = this.#usage || this.#chargeFilterWork ? new Map<Hex, number>() : undefined
    const matches = this.#filters.match(blocks, work)
    if (work) {
      for (const [clientId, units] of work) this.#usage?.add(clientId, 'filter_work', units)
      this.#chargeFilterWork?.(work)
    }
    const items: QueueItem[] = await this.#itemsOf(trx, matches, blocks)
    items.push(...(await this.#deployments.inBlocks(trx, blocks)))
    for (const [i, producer] of this.#producers.entries())
      items.push(...(await producer.itemsFor(trx, blocks, prepared[i])))
    if (items.length === 0) return
    // Chain order: a contract's deployment comes before its first activity, a transaction before its
    // logs; what belongs to the block as a whole (state read at its end) comes after its transactions.
    const rank = { deployed: 0, tx: 1, log: 2 } as Record<DeliveryKind, number>
    items.sort(
      (a, b) =>
        (a.blockNumber ?? 0) - (b.blockNumber ?? 0) ||
        (a.txIndex ?? Number.MAX_SAFE_INTEGER) - (b.txIndex ?? Number.MAX_SAFE_INTEGER) ||
        (rank[a.kind] ?? 3) - (rank[b.kind] ?? 3) ||
        (a.logIndex ?? 0) - (b.logIndex ?? 0),
    )
    await this.#storeVerifiedTxs(trx, matches, blocks)
    await queue.enqueue(items)
  }

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    if (blocks.length === 0) return
    const queue = this.#queue.batch(trx)
    this.#queue.nextBlock = Math.min(...blocks.map((block) => block.number))
    await rewindBackfills(trx, this.#queue.nextBlock)
    await rewindDormancy(trx, this.#queue.nextBlock)
    const withdrawn = await withdrawItemsOfBlocks(
      trx,
      blocks.map((block) => block.hash),
    )
    await trx
      .deleteFrom('verified_txs')
      .where(
        'block_hash',
        'in',
        blocks.map((block) => hexToBytes(block.hash)),
      )
      .execute()
    await this.#deployments.undo(
      trx,
      blocks.map((block) => block.hash),
    )
    const notices: QueueItem[] = withdrawn
      .filter((row) => row.delivered_at !== null || row.cursor <= row.acked_cursor)
      .map((row) => ({
        clientId: bytesToHex(row.client_id),
        kind: 'removed',
        clientContractId: row.client_contract_id,
        clientAccountId: row.client_account_id,
        filterId: null,
        // A notice belongs to no block: the block it speaks of is already abandoned, and must not
        // withdraw its own notice should it come back.
        blockNumber: null,
        blockHash: null,
        txHash: row.tx_hash ? bytesToHex(row.tx_hash) : null,
        txIndex: row.tx_index,
        logIndex: row.log_index,
        payload: {
          removedCursor: row.cursor,
          removedKind: row.kind,
          removedBlock: {
            number: row.block_number,
            hash: row.block_hash ? bytesToHex(row.block_hash) : null,
          },
          reason: 'reorg',
        },
      }))
    await queue.enqueue(notices)
    if (withdrawn.length > 0) {
      this.#log.info({ withdrawn: withdrawn.length, notices: notices.length }, 'reorg withdrew queued items')
    }
  }

  /**
   * The items of the matches a back-fill found in historical blocks. Their transactions travel in
   * the item itself: those blocks may predate the stored chain, which verified transactions refer to.
   */
  async historicalItems(
    trx: Transaction<DB>,
    matches: readonly Match[],
    blocks: readonly FetchedBlock[],
  ): Promise<QueueItem[]> {
    return (await this.#itemsOf(trx, matches, blocks)).map((item, i) => {
      const match = matches[i]!
      const { block, receipts } = blocks[match.blockIndex]!
      item.payload = {
        ...item.payload,
        tx: block.transactions[match.txIndex],
        receipt: receipts[match.txIndex],
        backfill: true,
      }
      return item
    })
  }

  committed(): void {
    this.#queue.batchCommitted()
  }

  /**
   * The items of matches, decoded here, once, with their interest's ABI: an interest with one
   * gets `decoded` in every item (null when the ABI does not fit), so reading never decodes.
   */
  async #itemsOf(
    trx: Transaction<DB>,
    matches: readonly Match[],
    blocks: readonly FetchedBlock[],
  ): Promise<QueueItemOf<'tx' | 'log'>[]> {
    const decoders =
      matches.length === 0
        ? new Map<number, AbiDecoder>()
        : await this.#abis.decodersFor(
            trx,
            matches.map((match) => match.clientContractId),
          )
    // Decoding costs in proportion to each match's data: other requests are served between slices.
    const pause = timeSlices()
    const items: QueueItemOf<'tx' | 'log'>[] = []
    for (const match of matches) {
      const item = this.#itemOf(match, blocks)
      const decoder = decoders.get(match.clientContractId)
      if (decoder) {
        item.payload.decoded = decodeMatch(decoder, match, blocks) ?? null
        await pause()
      }
      items.push(item)
    }
    return items
  }

  #itemOf(match: Match, blocks: readonly FetchedBlock[]): QueueItemOf<'tx' | 'log'> {
    const { block } = blocks[match.blockIndex]!
    const tx = block.transactions[match.txIndex]!
    return {
      clientId: match.clientId,
      kind: match.kind,
      clientContractId: match.clientContractId,
      filterId: match.filterIds[0]!,
      blockNumber: Number(block.number),
      blockHash: block.hash,
      txHash: tx.hash,
      txIndex: match.txIndex,
      logIndex: match.logIndex ?? null,
      payload: { filterIds: match.filterIds },
    }
  }

  async #storeVerifiedTxs(trx: Transaction<DB>, matches: readonly Match[], blocks: readonly FetchedBlock[]) {
    const seen = new Set<string>()
    const rows = []
    for (const match of matches) {
      const key = `${match.blockIndex}:${match.txIndex}`
      if (seen.has(key)) continue
      seen.add(key)
      const { block, receipts } = blocks[match.blockIndex]!
      const tx = block.transactions[match.txIndex]!
      rows.push({
        block_hash: hexToBytes(block.hash),
        tx_index: match.txIndex,
        tx_hash: hexToBytes(tx.hash),
        block_number: Number(block.number),
        tx: JSON.stringify(tx),
        receipt: JSON.stringify(receipts[match.txIndex]),
      })
    }
    for (let i = 0; i < rows.length; i += CHUNK) {
      await trx
        .insertInto('verified_txs')
        .values(rows.slice(i, i + CHUNK))
        .onConflict((oc) => oc.doNothing())
        .execute()
    }
  }
}

function decodeMatch(decoder: AbiDecoder, match: Match, blocks: readonly FetchedBlock[]) {
  const { block, receipts } = blocks[match.blockIndex]!
  if (match.kind === 'tx') return decoder.decodeCall(block.transactions[match.txIndex]!.input)
  const log = receipts[match.txIndex]!.logs.find((l) => Number(l.logIndex) === match.logIndex)
  return log ? decoder.decodeLog(log) : undefined
}
