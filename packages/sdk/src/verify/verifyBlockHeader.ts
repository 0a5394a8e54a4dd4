import type { Hex } from '../types.js'
import { computeBlockHash } from './computeBlockHash.js'
import { ProofVerificationError } from './ProofVerificationError.js'
import type { BlockHeader } from './types.js'

/**
 * Checks that `header` hashes to `hash`: then every root in it (state, receipts, transactions) is
 * the one of that block, and proofs against them prove something about that block. Where `hash`
 * itself comes from (a light client, a second node, a checkpoint) is the client's trust anchor.
 */
export function verifyBlockHeader(header: BlockHeader, hash: Hex): BlockHeader {
  const computed = computeBlockHash(header)
  if (computed.toLowerCase() !== hash.toLowerCase()) {
    throw new ProofVerificationError('BLOCK_HASH_MISMATCH', `the header hashes to ${computed}, not ${hash}`)
  }
  return header
}
