import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { encodeReceipt, receiptKey } from '@wallet-backend/sdk/verify'
import type { Hex } from 'viem'
import type { RpcReceipt } from '../types.js'

/** The root of an empty Merkle-Patricia trie: keccak256(rlp("")). */
export const EMPTY_TRIE_ROOT: Hex = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421'

/** The receipts trie of a block: each receipt's consensus encoding under the RLP of its index. */
export async function buildReceiptsTrie(receipts: readonly RpcReceipt[]): Promise<MerklePatriciaTrie> {
  const trie = new MerklePatriciaTrie()
  for (const receipt of receipts) {
    await trie.put(receiptKey(Number(receipt.transactionIndex)), encodeReceipt(receipt))
  }
  return trie
}

/**
 * Rebuilds the receipts trie of a block and returns its root, to compare with the header's
 * `receiptsRoot`: a node that sends receipts which do not belong to the block is caught here.
 */
export async function computeReceiptsRoot(receipts: readonly RpcReceipt[]): Promise<Hex> {
  if (receipts.length === 0) return EMPTY_TRIE_ROOT
  const trie = await buildReceiptsTrie(receipts)
  return `0x${Buffer.from(trie.root()).toString('hex')}` as Hex
}
