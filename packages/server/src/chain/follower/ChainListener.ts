import type { Transaction } from 'kysely'
import type { DB } from '../../storage/schema.js'
import type { FetchedBlock } from './fetchBlocks.js'

export type BlockRef = { number: number; hash: `0x${string}` }

/**
 * What the rest of the pipeline (matching and delivery, contract state, submissions) hooks into.
 * Both calls run inside the database transaction that changes the canonical chain, so a block and
 * everything derived from it become visible — or are withdrawn — together (docs/architecture.md,
 * invariant 2).
 */
export interface ChainListener<Prepared = void> {
  /**
   * Before the transaction that stores `blocks`: the moment for node calls a listener needs for
   * them (a database transaction is not held open across the network). What it returns is handed
   * to `blocksAdded` for the same blocks, and lives no longer than that batch.
   */
  prepare?(blocks: readonly FetchedBlock[]): Promise<Prepared>
  /** New canonical blocks, oldest first, already stored in `trx`, with what `prepare` returned for them. */
  blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[], prepared: Prepared): Promise<void>
  /** Blocks that stopped being canonical, newest first; what was derived from them must go. */
  blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void>
  /** After the transaction of the last call committed: the moment to tell anyone outside. */
  committed?(): void
}

/** Runs several listeners in order, as one; each gets back what its own `prepare` returned. */
export function combineListeners(listeners: readonly ChainListener<unknown>[]): ChainListener<unknown[]> {
  return {
    async prepare(blocks) {
      const prepared: unknown[] = []
      for (const listener of listeners) prepared.push(await listener.prepare?.(blocks))
      return prepared
    },
    async blocksAdded(trx, blocks, prepared) {
      for (const [i, listener] of listeners.entries()) await listener.blocksAdded(trx, blocks, prepared[i])
    },
    async blocksRemoved(trx, blocks) {
      for (const listener of listeners) await listener.blocksRemoved(trx, blocks)
    },
    committed() {
      for (const listener of listeners) listener.committed?.()
    },
  }
}
