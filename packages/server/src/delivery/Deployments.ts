import type { Kysely, Transaction } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef } from '../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { DB } from '../storage/schema.js'
import type { QueueItem } from './DeliveryQueue.js'

/** How a deployment was seen: a creation or a first log in a stored block, the code read by the contract-state watcher, or the code sweep. */
export type DeployedBy = 'creation' | 'log' | 'state' | 'code'

/** Where a deployment was seen: its block, and its transaction where one names it. */
export type DeployedAt = { block: BlockRef; txHash: Hex | null; txIndex: number | null }

/**
 * The one record of "the contract at this address was deployed at block N" for the addresses
 * clients are interested in (`deployed_contracts`). Whoever sees a deployment first — matching (a
 * creation or a log in a stored block), the contract-state watcher (code appearing at a block),
 * the code sweep — records it here, in the transaction that queues its `deployed` items; later
 * sightings find it recorded and change nothing (docs/architecture.md, invariant 5).
 */
export class Deployments {
  /** Watched addresses without code yet, as committed (or about to be). */
  #undeployed = new Set<Hex>()

  async load(db: Kysely<DB>): Promise<void> {
    const rows = await db
      .selectFrom('deployed_contracts')
      .select('address')
      .where('is_deployed', '=', false)
      .execute()
    this.#undeployed = new Set(rows.map((row) => bytesToHex(row.address)))
  }

  /** An interest in an address without code: its deployment is looked for from now on. */
  watch(address: Hex): void {
    this.#undeployed.add(address.toLowerCase() as Hex)
  }

  isWatched(address: Hex): boolean {
    return this.#undeployed.has(address.toLowerCase() as Hex)
  }

  /** The watched addresses without code yet. */
  watched(): Hex[] {
    return [...this.#undeployed]
  }

  /**
   * Records the deployment of `address` at `where`, if nobody recorded it before, and returns the
   * `deployed` item of every active client interested in it; undefined if it was recorded already.
   */
  async record(
    trx: Transaction<DB>,
    address: Hex,
    where: DeployedAt,
    by: DeployedBy,
    codeHash?: Hex,
  ): Promise<QueueItem[] | undefined> {
    const key = address.toLowerCase() as Hex
    if (!this.#undeployed.has(key)) return undefined
    const updated = await trx
      .updateTable('deployed_contracts')
      .set({
        is_deployed: true,
        deployed_block_number: where.block.number,
        deployed_block_hash: hexToBytes(where.block.hash),
        ...(codeHash ? { code_hash: hexToBytes(codeHash) } : {}),
      })
      .where('address', '=', hexToBytes(key))
      .where('is_deployed', '=', false)
      .returning('address')
      .executeTakeFirst()
    this.#undeployed.delete(key)
    if (!updated) return undefined
    const interests = await trx
      .selectFrom('client_contracts as i')
      .innerJoin('clients as c', 'c.id', 'i.client_id')
      .select(['i.id', 'i.client_id'])
      .where('i.address', '=', hexToBytes(key))
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
      payload: { address: key, detectedBy: by },
    }))
  }

  /** Contract creations and first logs at watched undeployed addresses, recorded as deployments. */
  async inBlocks(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<QueueItem[]> {
    if (this.#undeployed.size === 0) return []
    const found = new Map<Hex, { at: DeployedAt; by: DeployedBy }>()
    for (const { block, receipts } of blocks) {
      const ref = { number: Number(block.number), hash: block.hash }
      receipts.forEach((receipt, txIndex) => {
        const at = { block: ref, txHash: block.transactions[txIndex]!.hash, txIndex }
        const created = receipt.contractAddress?.toLowerCase() as Hex | undefined
        if (created && this.#undeployed.has(created) && !found.has(created))
          found.set(created, { at, by: 'creation' })
        for (const log of receipt.logs) {
          const emitter = log.address.toLowerCase() as Hex
          if (this.#undeployed.has(emitter) && !found.has(emitter)) found.set(emitter, { at, by: 'log' })
        }
      })
    }
    const items: QueueItem[] = []
    for (const [address, { at, by }] of found)
      items.push(...((await this.record(trx, address, at, by)) ?? []))
    return items
  }

  /** Deployments recorded at abandoned blocks are undone: those addresses are looked for again. */
  async undo(trx: Transaction<DB>, blockHashes: readonly Hex[]): Promise<void> {
    const undone = await trx
      .updateTable('deployed_contracts')
      .set({ is_deployed: false, deployed_block_hash: null, deployed_block_number: null, code_hash: null })
      .where(
        'deployed_block_hash',
        'in',
        blockHashes.map((hash) => hexToBytes(hash)),
      )
      .returning('address')
      .execute()
    for (const row of undone) this.#undeployed.add(bytesToHex(row.address))
  }
}
