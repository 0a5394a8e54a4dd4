import { verifyMerkleProof } from '@ethereumjs/mpt'
import { hexToBytes } from 'viem'
import type { Hex } from '../types.js'
import { ProofVerificationError } from './ProofVerificationError.js'

/**
 * The value the proof shows under `key` in the trie whose root is `root`, or null where it shows
 * there is none. A proof that does not lead to `root` throws ProofVerificationError with `code`.
 */
export async function provenTrieValue(
  root: Hex,
  key: Uint8Array,
  proof: readonly Hex[],
  code: string,
): Promise<Uint8Array | null> {
  try {
    return await verifyMerkleProof(
      key,
      proof.map((node) => hexToBytes(node)),
      { root: hexToBytes(root), useKeyHashing: false },
    )
  } catch (error) {
    throw new ProofVerificationError(code, `the proof does not lead to ${root}: ${String(error)}`)
  }
}
