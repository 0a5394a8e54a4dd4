import { createMerkleProof, type MerklePatriciaTrie } from '@ethereumjs/mpt'
import { receiptKey } from '@wallet-backend/sdk/verify'
import { bytesToHex, type Hex } from 'viem'

/** The nodes from the root of a block's list trie down to the entry at `index`, each RLP-encoded. */
export async function trieProof(trie: MerklePatriciaTrie, index: number): Promise<Hex[]> {
  return (await createMerkleProof(trie, receiptKey(index))).map((node) => bytesToHex(node))
}
