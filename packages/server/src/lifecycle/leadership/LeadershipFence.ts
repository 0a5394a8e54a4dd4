import type { Transaction } from 'kysely'
import type { Hex } from 'viem'
import type { BlockRef, ChainListener } from '../../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../../chain/follower/fetchBlocks.js'
import type { DB } from '../../storage/schema.js'
import { LeadershipLostError } from './errors.js'
import { recordChainPosition } from './leadershipStore.js'

/**
 * The first listener of a leader's follower: inside each of its transactions, checks that its
 * term is still the current one (a fencing token) and records the chain position standbys serve
 * from. A leader deposed without knowing it — its lock session ended by the database while it ran
 * on — fails its next commit here instead of writing beside the new leader.
 */
export class LeadershipFence implements ChainListener {
  readonly #term: number
  readonly #finality: () => { safe: BlockRef | undefined; finalized: BlockRef | undefined }
  readonly #onLost: (error: LeadershipLostError) => void

  constructor(options: {
    term: number
    finality: () => { safe: BlockRef | undefined; finalized: BlockRef | undefined }
    onLost: (error: LeadershipLostError) => void
  }) {
    this.#term = options.term
    this.#finality = options.finality
    this.#onLost = options.onLost
  }

  async blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<void> {
    const last = blocks[blocks.length - 1]
    const { safe, finalized } = this.#finality()
    await this.#check(trx, {
      ...(last ? { head: { number: Number(last.block.number), hash: last.block.hash as Hex } } : {}),
      ...(safe ? { safe: safe.number } : {}),
      ...(finalized ? { finalized: finalized.number } : {}),
    })
  }

  async blocksRemoved(trx: Transaction<DB>): Promise<void> {
    await this.#check(trx, {})
  }

  async #check(trx: Transaction<DB>, position: Parameters<typeof recordChainPosition>[2]): Promise<void> {
    if (await recordChainPosition(trx, this.#term, position)) return
    const error = new LeadershipLostError(this.#term)
    this.#onLost(error)
    throw error
  }
}
