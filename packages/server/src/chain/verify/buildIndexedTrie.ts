import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { receiptKey } from '@wallet-backend/sdk/verify'

/**
 * The trie a header commits a block's list to (its transactions, its receipts): each value under
 * the RLP of its position.
 */
export async function buildIndexedTrie(values: readonly Uint8Array[]): Promise<MerklePatriciaTrie> {
  const trie = new MerklePatriciaTrie()
  for (const [index, value] of values.entries()) await trie.put(receiptKey(index), value)
  return trie
}
