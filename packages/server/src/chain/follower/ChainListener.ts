import type { Transaction } from 'kysely'
import type { DB } from '../../storage/schema.js'
import type { FetchedBlock } from './fetchBlocks.js'

export type BlockRef = { number: number; hash: `0x${string}` }

/**
 * What the rest of the pipeline (matching and delivery, contract state, submissions) hooks into.
 * Both calls run inside the database transaction that changes the canonical chain, so a block and
 * everything derived from it become visible — or are withdrawn — together (DESIGN invariant 2).
 */
export interface ChainListener {
  /**
   * Before the transaction that stores `blocks`: the moment for node calls a listener needs for
   * them (a database transaction is not held open across the network).
   */
  prepare?(blocks: readonly FetchedBlock[]): Promise<void>
  /** New canonical blocks, oldest first, already stored in `trx`. */
  blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<void>
  /** Blocks that stopped being canonical, newest first; what was derived from them must go. */
  blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void>
  /** After the transaction of the last call committed: the moment to tell anyone outside. */
  committed?(): void
}

/** Runs several listeners in order, as one. */
export function combineListeners(listeners: readonly ChainListener[]): ChainListener {
  return {
    async prepare(blocks) {
      for (const listener of listeners) await listener.prepare?.(blocks)
    },
    async blocksAdded(trx, blocks) {
      for (const listener of listeners) await listener.blocksAdded(trx, blocks)
    },
    async blocksRemoved(trx, blocks) {
      for (const listener of listeners) await listener.blocksRemoved(trx, blocks)
    },
    committed() {
      for (const listener of listeners) listener.committed?.()
    },
  }
}
