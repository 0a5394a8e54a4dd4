import type { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { encodeReceipt } from '@wallet-backend/sdk/verify'
import type { Hex } from 'viem'
import type { RpcReceipt } from '../types.js'
import { buildIndexedTrie } from './buildIndexedTrie.js'
import { computeIndexedTrieRoot } from './computeIndexedTrieRoot.js'

/**
 * The receipts trie of a block: each receipt's consensus encoding under the RLP of its position
 * (the follower has checked that each receipt's own `transactionIndex` is that position).
 */
export function buildReceiptsTrie(receipts: readonly RpcReceipt[]): Promise<MerklePatriciaTrie> {
  return buildIndexedTrie(receipts.map((receipt) => encodeReceipt(receipt)))
}

/**
 * Rebuilds the receipts trie of a block and returns its root, to compare with the header's
 * `receiptsRoot`: a node that sends receipts which do not belong to the block is caught here.
 */
export function computeReceiptsRoot(receipts: readonly RpcReceipt[]): Hex {
  return computeIndexedTrieRoot(receipts.map((receipt) => encodeReceipt(receipt)))
}
