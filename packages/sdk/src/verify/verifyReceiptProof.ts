import { bytesToHex } from 'viem'
import type { Hex } from '../types.js'
import { encodeReceipt, receiptKey } from './encodeReceipt.js'
import { ProofVerificationError } from './ProofVerificationError.js'
import { provenTrieValue } from './provenTrieValue.js'
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
  const proven = await provenTrieValue(
    options.receiptsRoot,
    receiptKey(options.index),
    options.proof,
    'RECEIPT_PROOF_INVALID',
  )
  if (!proven)
    throw new ProofVerificationError('RECEIPT_PROOF_INVALID', `no receipt at index ${options.index}`)
  if (bytesToHex(proven) !== bytesToHex(encodeReceipt(options.receipt))) {
    throw new ProofVerificationError('VALUE_MISMATCH', 'the receipt differs from the one the proof proves')
  }
  return options.receipt
}
