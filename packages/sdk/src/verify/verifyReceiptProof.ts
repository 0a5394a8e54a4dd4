import { verifyMerkleProof } from '@ethereumjs/mpt'
import { bytesToHex, hexToBytes } from 'viem'
import type { Hex } from '../types.js'
import { encodeReceipt, receiptKey } from './encodeReceipt.js'
import { ProofVerificationError } from './ProofVerificationError.js'
import type { Receipt } from './types.js'

/**
 * Checks that `receipt` is the receipt at `index` in the trie whose root is `receiptsRoot` (from a
 * verified header): its status, gas and every log are then exactly what the block holds.
 */
export async function verifyReceiptProof(options: {
  receiptsRoot: Hex
  index: number
  receipt: Receipt
  proof: readonly Hex[]
}): Promise<Receipt> {
  let proven: Uint8Array | null
  try {
    proven = await verifyMerkleProof(
      receiptKey(options.index),
      options.proof.map((node) => hexToBytes(node)),
      { root: hexToBytes(options.receiptsRoot), useKeyHashing: false },
    )
  } catch (error) {
    throw new ProofVerificationError(
      'RECEIPT_PROOF_INVALID',
      `the proof does not lead to receiptsRoot: ${String(error)}`,
    )
  }
  if (!proven)
    throw new ProofVerificationError('RECEIPT_PROOF_INVALID', `no receipt at index ${options.index}`)
  if (bytesToHex(proven) !== bytesToHex(encodeReceipt(options.receipt))) {
    throw new ProofVerificationError('VALUE_MISMATCH', 'the receipt differs from the one the proof proves')
  }
  return options.receipt
}
