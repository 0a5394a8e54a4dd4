import type { TransactionProof } from '@wallet-backend/sdk/verify'
import { hexToBytes } from 'viem'
import { NodeBlockMissingError } from '../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { RpcBlock } from '../chain/types.js'
import { buildIndexedTrie } from '../chain/verify/buildIndexedTrie.js'
import { verifyTransactions } from '../chain/verify/verifyTransactions.js'
import { BlockNotCanonicalError, BlockNotVerifiedError, IndexOutOfRangeError } from './errors.js'
import type { StoredBlock } from './findStoredBlock.js'
import { trieProof } from './trieProof.js'

/**
 * A Merkle-Patricia proof of one transaction of a stored block against its `transactionsRoot`.
 * The backend keeps only the transactions that matched a filter, so the block's transactions are
 * fetched again and must rebuild the stored header's root before anything is answered.
 */
export async function proveTransaction(
  node: NodeClient,
  block: StoredBlock,
  index: number,
): Promise<TransactionProof> {
  if (index >= block.txCount) throw new IndexOutOfRangeError(index, block.txCount)
  if (!block.verified) throw new BlockNotVerifiedError(block.hash)
  const fetched = await node.request<RpcBlock | null>('eth_getBlockByNumber', [
    `0x${block.number.toString(16)}`,
    true,
  ])
  if (!fetched) throw new NodeBlockMissingError(block.number)
  if (fetched.hash !== block.hash) throw new BlockNotCanonicalError(block.hash)
  const encoded = verifyTransactions(fetched, block.header.transactionsRoot)
  const trie = await buildIndexedTrie(encoded.map((leaf) => hexToBytes(leaf)))
  return {
    block: { number: block.number, hash: block.hash },
    transactionsRoot: block.header.transactionsRoot,
    index,
    transaction: encoded[index]!,
    proof: await trieProof(trie, index),
  }
}
