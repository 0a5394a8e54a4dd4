import type { Hex } from 'viem'
import { type FetchedBlock, fetchBlocks, type ReceiptsMode } from '../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { RpcReceipt } from '../chain/types.js'
import { buildReceiptsTrie } from '../chain/verify/computeReceiptsRoot.js'
import { BlockNotCanonicalError, BlockNotVerifiedError, IndexOutOfRangeError } from './errors.js'
import type { StoredBlock } from './findStoredBlock.js'
import { trieProof } from './trieProof.js'

export type ReceiptProof = {
  block: { number: number; hash: Hex }
  receiptsRoot: Hex
  index: number
  receipt: RpcReceipt
  /** The trie nodes from `receiptsRoot` to the receipt, each RLP-encoded. */
  proof: Hex[]
}

/**
 * A Merkle-Patricia proof of one receipt of a stored block. The block's receipts are fetched again
 * (the backend keeps only matched ones) through the same verified fetch the follower uses, so the
 * proof is built from receipts that hash to the header's root, or not at all.
 */
export async function proveReceipt(
  node: NodeClient,
  block: StoredBlock,
  index: number,
  mode: ReceiptsMode = { perBlock: true },
): Promise<ReceiptProof> {
  if (index >= block.txCount) throw new IndexOutOfRangeError(index, block.txCount)
  if (!block.verified) throw new BlockNotVerifiedError(block.hash)
  const [fetched] = (await fetchBlocks(node, [block.number], mode)) as [FetchedBlock]
  if (fetched.block.hash !== block.hash) throw new BlockNotCanonicalError(block.hash)
  const trie = await buildReceiptsTrie(fetched.receipts)
  return {
    block: { number: block.number, hash: block.hash },
    receiptsRoot: block.header.receiptsRoot,
    index,
    receipt: fetched.receipts[index]!,
    proof: await trieProof(trie, index),
  }
}
