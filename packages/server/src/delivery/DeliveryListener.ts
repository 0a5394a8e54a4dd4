import { type Insertable, type Kysely, sql, type Transaction } from 'kysely'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { PlanBook } from '../clients/plans/PlanBook.js'
import type { UsageMeter } from '../clients/usage/UsageMeter.js'
import type { FilterIndex, Match, StoredInterest } from '../filters/FilterIndex.js'
import type { ClientDeliveriesTable, DB, DeliveryKind } from '../storage/schema.js'
import { timeSlices } from '../utils/timeSlices.js'
import type { AbiDecoder } from './compileAbi.js'
import { InterestAbis } from './InterestAbis.js'
import type { Notifier } from './Notifier.js'
import { releaseBacklog } from './releaseBacklog.js'

/** An item to queue for one client; the queue gives it its cursor. */
export type QueueItem = {
  clientId: Hex
  kind: DeliveryKind
  clientContractId: number | null
  filterId: number | null
  blockNumber: number | null
  blockHash: Hex | null
  txHash: Hex | null
  txIndex: number | null
  logIndex: number | null
  payload: Record<string, unknown>
  /** The account interest of an `account` item. */
  clientAccountId?: number | null
}

const CHUNK = 500

/** Something else that derives items from added blocks (contract state, …), queued with the matches. */
export interface ItemProducer {
  itemsFor(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<QueueItem[]>
}

/**
 * Matches every stored block against the filter index and queues the matches, per client, with
 * cursors that only grow — inside the follower's transaction, so a block and its items commit
 * together. A reorg withdraws what its blocks produced: undelivered items vanish; items the
 * client already received (or acknowledged) are answered with a `removed` item.
 */
export class DeliveryListener implements ChainListener {
  readonly #filters: FilterIndex
  readonly #notifier: Notifier
  readonly #log: Logger
  #touched = new Set<Hex>()
  /** Watched addresses without code yet: a contract creation or a log from one means it now exists. */
  #undeployed = new Set<Hex>()
  readonly #queued: Counter<'kind'>
  /** The block the next live batch starts at; an interest installed now is matched from there on. */
  #nextExpected: number | undefined

  readonly #usage: UsageMeter | undefined
  readonly #producers: ItemProducer[] = []
  /** Bounds the backlog of each client by its plan; without it the backlog is not bounded. */
  readonly #plans: Pick<PlanBook, 'get'> | undefined
  /** Clients a full backlog made dormant in the transaction being committed. */
  #overflowed = new Set<Hex>()
  readonly #onOverflow: ((clientIds: Hex[]) => void) | undefined
  readonly #chargeFilterWork: ((work: ReadonlyMap<Hex, number>) => void) | undefined
  readonly #abis = new InterestAbis()

  constructor(options: {
    filters: FilterIndex
    notifier: Notifier
    logger: Logger
    metrics: Registry
    usage?: UsageMeter
    plans?: Pick<PlanBook, 'get'>
    /** After the commit that made them dormant: take these clients out of every live index. */
    onOverflow?: (clientIds: Hex[]) => void
    /** The filter work each client's filters cost in a batch, for its cost limit. */
    chargeFilterWork?: (work: ReadonlyMap<Hex, number>) => void
  }) {
    this.#usage = options.usage
    this.#chargeFilterWork = options.chargeFilterWork
    this.#plans = options.plans
    this.#onOverflow = options.onOverflow
    this.#filters = options.filters
    this.#notifier = options.notifier
    this.#log = options.logger.child({ component: 'delivery' })
    this.#queued = new Counter({
      name: 'wallet_backend_delivery_items_queued_total',
      help: 'Items queued for clients by kind',
      labelNames: ['kind'],
      registers: [options.metrics],
    })
  }

  /** Items of other producers join each batch's matches, sorted into chain order with them. */
  addProducer(producer: ItemProducer): void {
    this.#producers.push(producer)
  }

  async loadUndeployed(db: Kysely<DB>): Promise<void> {
    const rows = await db
      .selectFrom('deployed_contracts')
      .select('address')
      .where('is_deployed', '=', false)
      .execute()
    this.#undeployed = new Set(rows.map((row) => bytesToHex(row.address)))
  }

  watchUndeployed(address: Hex): void {
    this.#undeployed.add(address.toLowerCase() as Hex)
  }

  forgetUndeployed(address: Hex): void {
    this.#undeployed.delete(address.toLowerCase() as Hex)
  }

  /** Where live matching stands: the stored head of the chain (before the follower starts). */
  setPosition(head: number | undefined): void {
    this.#nextExpected = head === undefined ? undefined : head + 1
  }

  /**
   * Hands a back-filled interest over to live matching if history was scanned exactly up to where
   * live matching stands (`seam` = first block not scanned). Matching is synchronous at the start of
   * a batch, so once installed the interest is in every batch from `seam` on — no gap, no overlap.
   * 'behind': live matching has moved on; scan up to the new position and try again.
   */
  installAtSeam(interest: StoredInterest, seam: number): 'installed' | 'behind' {
    if (this.#nextExpected !== undefined && seam < this.#nextExpected) return 'behind'
    this.#filters.setInterest(interest)
    return 'installed'
  }

  /** As installAtSeam, for an index of another kind: `install` runs only if history reached the seam. */
  runAtSeam(seam: number, install: () => void): 'installed' | 'behind' {
    if (this.#nextExpected !== undefined && seam < this.#nextExpected) return 'behind'
    install()
    return 'installed'
  }

  async blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<void> {
    // A transaction that failed before its commit made nobody dormant.
    this.#overflowed.clear()
    const last = blocks[blocks.length - 1]
    if (last) this.#nextExpected = Number(last.block.number) + 1
    const work = this.#usage || this.#chargeFilterWork ? new Map<Hex, number>() : undefined
    const matches = this.#filters.match(blocks, work)
    if (work) {
      for (const [clientId, units] of work) this.#usage?.add(clientId, 'filter_work', units)
      this.#chargeFilterWork?.(work)
    }
    const items = await this.#itemsOf(trx, matches, blocks)
    items.push(...(await this.#deployments(trx, blocks)))
    for (const producer of this.#producers) items.push(...(await producer.itemsFor(trx, blocks)))
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
    await this.enqueue(trx, items)
  }

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    if (blocks.length === 0) return
    this.#overflowed.clear()
    this.#nextExpected = Math.min(...blocks.map((block) => block.number))
    const hashes = blocks.map((block) => hexToBytes(block.hash))
    const withdrawn = await trx
      .deleteFrom('client_deliveries as d')
      .using('clients as c')
      .whereRef('c.id', '=', 'd.client_id')
      .where('d.block_hash', 'in', hashes)
      .returning([
        'd.client_id',
        'd.cursor',
        'd.kind',
        'd.client_contract_id',
        'd.client_account_id',
        'd.block_number',
        'd.block_hash',
        'd.tx_hash',
        'd.tx_index',
        'd.log_index',
        'd.delivered_at',
        'd.bytes',
        'c.acked_cursor',
      ])
      .execute()
    await releaseBacklog(
      trx,
      withdrawn.filter((row) => row.cursor > row.acked_cursor),
    )
    await trx.deleteFrom('verified_txs').where('block_hash', 'in', hashes).execute()
    const undone = await trx
      .updateTable('deployed_contracts')
      .set({ is_deployed: false, deployed_block_hash: null, deployed_block_number: null, code_hash: null })
      .where('deployed_block_hash', 'in', hashes)
      .returning('address')
      .execute()
    for (const row of undone) this.#undeployed.add(bytesToHex(row.address))
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
    if (notices.length > 0) await this.enqueue(trx, notices)
    if (withdrawn.length > 0) {
      this.#log.info({ withdrawn: withdrawn.length, notices: notices.length }, 'reorg withdrew queued items')
    }
  }

  /** Queues a notice (`gap`, …) for one client, with what it says in `data`. */
  async enqueueNotice(
    trx: Transaction<DB>,
    clientId: Hex,
    kind: DeliveryKind,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.enqueue(trx, [
      {
        clientId,
        kind,
        clientContractId: null,
        filterId: null,
        blockNumber: null,
        blockHash: null,
        txHash: null,
        txIndex: null,
        logIndex: null,
        payload: data,
      },
    ])
  }

  /** Queues a `deployed` item for every active client interested in `address` (found by a code sweep). */
  async enqueueDeployed(
    trx: Transaction<DB>,
    address: Hex,
    block: BlockRef,
    detectedBy: string,
  ): Promise<void> {
    const items = await this.#deployedItems(trx, address, { block, txHash: null, txIndex: null }, detectedBy)
    if (items.length > 0) await this.enqueue(trx, items)
  }

  /**
   * Queues the matches a back-fill found in historical blocks. Their transactions travel in the
   * item itself: those blocks may predate the stored chain, which verified transactions refer to.
   */
  async enqueueHistorical(
    trx: Transaction<DB>,
    matches: readonly Match[],
    blocks: readonly FetchedBlock[],
  ): Promise<void> {
    const items = (await this.#itemsOf(trx, matches, blocks)).map((item, i) => {
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
    if (items.length > 0) await this.enqueue(trx, items)
  }

  committed(): void {
    if (this.#overflowed.size > 0) {
      const overflowed = [...this.#overflowed]
      this.#overflowed = new Set()
      for (const id of overflowed) this.#filters.removeClient(id)
      this.#onOverflow?.(overflowed)
    }
    if (this.#touched.size === 0) return
    const touched = this.#touched
    this.#touched = new Set()
    this.#notifier.notify(touched).catch((error: unknown) => this.#log.warn({ err: error }, 'notify failed'))
  }

  /**
   * The items of matches, decoded here, once, with their interest's ABI: an interest with one
   * gets `decoded` in every item (null when the ABI does not fit), so reading never decodes.
   */
  async #itemsOf(
    trx: Transaction<DB>,
    matches: readonly Match[],
    blocks: readonly FetchedBlock[],
  ): Promise<QueueItem[]> {
    const decoders =
      matches.length === 0
        ? new Map<number, AbiDecoder>()
        : await this.#abis.decodersFor(
            trx,
            matches.map((match) => match.clientContractId),
          )
    // Decoding costs in proportion to each match's data: other requests are served between slices.
    const pause = timeSlices()
    const items: QueueItem[] = []
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

  #itemOf(match: Match, blocks: readonly FetchedBlock[]): QueueItem {
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

  /** Contract creations and first logs at watched undeployed addresses become `deployed` items. */
  async #deployments(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<QueueItem[]> {
    if (this.#undeployed.size === 0) return []
    const found = new Map<Hex, { block: FetchedBlock['block']; txIndex: number; via: 'creation' | 'log' }>()
    for (const { block, receipts } of blocks) {
      receipts.forEach((receipt, txIndex) => {
        const created = receipt.contractAddress?.toLowerCase() as Hex | undefined
        if (created && this.#undeployed.has(created) && !found.has(created)) {
          found.set(created, { block, txIndex, via: 'creation' })
        }
        for (const log of receipt.logs) {
          const emitter = log.address.toLowerCase() as Hex
          if (this.#undeployed.has(emitter) && !found.has(emitter))
            found.set(emitter, { block, txIndex, via: 'log' })
        }
      })
    }
    if (found.size === 0) return []
    const items: QueueItem[] = []
    for (const [address, { block, txIndex, via }] of found) {
      this.#undeployed.delete(address)
      await trx
        .updateTable('deployed_contracts')
        .set({
          is_deployed: true,
          deployed_block_number: Number(block.number),
          deployed_block_hash: hexToBytes(block.hash),
        })
        .where('address', '=', hexToBytes(address))
        .execute()
      const where = {
        block: { number: Number(block.number), hash: block.hash },
        txHash: block.transactions[txIndex]!.hash,
        txIndex,
      }
      items.push(...(await this.#deployedItems(trx, address, where, via)))
    }
    return items
  }

  /** A `deployed` item for every active client interested in `address`. */
  async #deployedItems(
    trx: Transaction<DB>,
    address: Hex,
    where: { block: BlockRef; txHash: Hex | null; txIndex: number | null },
    detectedBy: string,
  ): Promise<QueueItem[]> {
    const interests = await trx
      .selectFrom('client_contracts as i')
      .innerJoin('clients as c', 'c.id', 'i.client_id')
      .select(['i.id', 'i.client_id'])
      .where('i.address', '=', hexToBytes(address))
      .where('c.stage', '=', 'active')
      .execute()
    return interests.map((interest) => ({
      clientId: bytesToHex(interest.client_id),
      kind: 'deployed',
      clientContractId: interest.id,
      filterId: null,
      blockNumber: where.block.number,
      blockHash: where.block.hash,
      txHash: where.txHash,
      txIndex: where.txIndex,
      logIndex: null,
      payload: { address, detectedBy },
    }))
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

  /**
   * Gives each item the next cursor of its client and stores it, in `trx`; clients that are not
   * active get nothing (but a dormant client still gets its `removed` notices: what it was told
   * must be taken back). Every producer of items (matching, contract state, submissions) queues
   * here. A client whose backlog this takes above its plan's bound goes dormant from the next
   * block on: it is matched no more until it acknowledges, and then gets a `gap` item.
   */
  async enqueue(trx: Transaction<DB>, items: readonly QueueItem[]): Promise<void> {
    const perClient = new Map<Hex, { items: QueueItem[]; payloads: string[]; bytes: number }>()
    let noticesOnly = true
    for (const item of items) {
      const payload = JSON.stringify(item.payload)
      const entry = perClient.get(item.clientId) ?? { items: [], payloads: [], bytes: 0 }
      entry.items.push(item)
      entry.payloads.push(payload)
      entry.bytes += payload.length
      perClient.set(item.clientId, entry)
      if (item.kind !== 'removed') noticesOnly = false
    }
    const clients = [...perClient.keys()]
    const rows: Insertable<ClientDeliveriesTable>[] = []
    const overflowing: Hex[] = []
    for (let i = 0; i < clients.length; i += CHUNK) {
      const chunk = clients.slice(i, i + CHUNK)
      const values = sql.join(
        chunk.map((id) => {
          const entry = perClient.get(id)!
          return sql`(${hexToBytes(id)}::bytea, ${entry.items.length}::bigint, ${entry.bytes}::bigint)`
        }),
      )
      const stages = noticesOnly ? sql`c.stage in ('active', 'dormant')` : sql`c.stage = 'active'`
      const allocated = await sql<{
        id: Uint8Array
        next_cursor: number
        plan: string
        stage: string
        backlog_items: number
        backlog_bytes: number
      }>`
        update clients as c set
          next_cursor = c.next_cursor + v.n,
          backlog_items = c.backlog_items + v.n,
          backlog_bytes = c.backlog_bytes + v.bytes
        from (values ${values}) as v(id, n, bytes)
        where c.id = v.id and ${stages}
        returning c.id, c.next_cursor, c.plan, c.stage, c.backlog_items, c.backlog_bytes`.execute(trx)
      for (const row of allocated.rows) {
        const id = bytesToHex(row.id)
        const entry = perClient.get(id)!
        const first = Number(row.next_cursor) - entry.items.length
        entry.items.forEach((item, offset) => {
          const payload = entry.payloads[offset]!
          rows.push({
            client_id: row.id,
            cursor: first + offset,
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
        this.#usage?.add(id, 'items_queued', entry.items.length)
        this.#usage?.add(id, 'bytes_queued', entry.bytes)
        this.#touched.add(id)
        const plan = this.#plans?.get(row.plan)
        if (
          plan &&
          row.stage === 'active' &&
          (Number(row.backlog_items) > plan.backlogItems || Number(row.backlog_bytes) > plan.backlogBytes)
        )
          overflowing.push(id)
      }
    }
    for (let i = 0; i < rows.length; i += CHUNK) {
      await trx
        .insertInto('client_deliveries')
        .values(rows.slice(i, i + CHUNK))
        .execute()
    }
    if (overflowing.length > 0) await this.#overflow(trx, overflowing)
  }

  /** Clients whose backlog is full stop being matched from the first block not matched yet. */
  async #overflow(trx: Transaction<DB>, clientIds: Hex[]): Promise<void> {
    await trx
      .updateTable('clients')
      .set({ stage: 'dormant', stage_changed_at: new Date(), dormant_from_block: this.#nextExpected ?? 0 })
      .where(
        'id',
        'in',
        clientIds.map((id) => hexToBytes(id)),
      )
      .where('stage', '=', 'active')
      .execute()
    for (const id of clientIds) this.#overflowed.add(id)
    this.#log.warn(
      { clients: clientIds.length, first: clientIds[0] },
      'backlog full: clients made dormant until they acknowledge',
    )
  }
}

function decodeMatch(decoder: AbiDecoder, match: Match, blocks: readonly FetchedBlock[]) {
  const { block, receipts } = blocks[match.blockIndex]!
  if (match.kind === 'tx') return decoder.decodeCall(block.transactions[match.txIndex]!.input)
  const log = receipts[match.txIndex]!.logs.find((l) => Number(l.logIndex) === match.logIndex)
  return log ? decoder.decodeLog(log) : undefined
}
