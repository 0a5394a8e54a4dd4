import { firstOffStoredChain } from '../../chain/follower/blockStore.js'
import type { BlockRef } from '../../chain/follower/ChainListener.js'
import type { Follower } from '../../chain/follower/Follower.js'
import type { FetchedBlock } from '../../chain/follower/fetchBlocks.js'
import type { DeliveryQueue, QueueWriter } from '../DeliveryQueue.js'

/**
 * A back-fill read a block the follower has not stored at its height: the node's chain and the
 * stored one differ there for now. Not a failure: the turn is tried again once the follower has
 * caught up with the node.
 */
export class OffStoredChainError extends Error {
  override readonly name = 'OffStoredChainError'
  constructor(readonly block: BlockRef) {
    super(`block ${block.number} (${block.hash}) is not on the stored chain yet`)
  }
}

/**
 * Queues a back-fill's items of `blocks` in one queue transaction, between follow cycles, and only
 * if every block is on the stored canonical chain. History is read from the node by number, and the
 * node may be on another branch than the store: an item of a block the store never had could not
 * be withdrawn by the reorg that abandons it (withdrawal goes by stored block), and a block the
 * follower applies later would be matched live a second time. Running between cycles keeps a reorg
 * from committing between the check and the items.
 *
 * @throws OffStoredChainError when a block is off the stored chain; nothing is written.
 */
export function queueHistory<T>(
  follower: Pick<Follower, 'exclusive'>,
  queue: Pick<DeliveryQueue, 'transaction'>,
  blocks: readonly FetchedBlock[],
  work: (queue: QueueWriter) => Promise<T>,
): Promise<T> {
  const refs = blocks.map(({ block }) => ({ number: Number(block.number), hash: block.hash }))
  return follower.exclusive(() =>
    queue.transaction(async (writer) => {
      const off = await firstOffStoredChain(writer.trx, refs)
      if (off) throw new OffStoredChainError(off)
      return work(writer)
    }),
  )
}
