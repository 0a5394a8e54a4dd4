import {
  type Address,
  bytesToHex,
  keccak256,
  recoverTransactionAddress,
  serializeTransaction,
  type TransactionSerializable,
} from 'viem'
import { parseTransaction } from 'viem/op-stack'
import type { Hex } from '../types.js'
import { computeBlockHash } from './computeBlockHash.js'
import { receiptKey } from './encodeReceipt.js'
import { ProofVerificationError } from './ProofVerificationError.js'
import { provenTrieValue } from './provenTrieValue.js'
import type { BlockHeader, TransactionProof } from './types.js'

/** An OP-stack deposit (type 0x7e), as its proven bytes say. */
export type DepositTransaction = {
  type: 'deposit'
  sourceHash: Hex
  from: Address
  to?: Address | null
  mint?: bigint
  value?: bigint
  gas?: bigint
  isSystemTx?: boolean
  data?: Hex
}

export type VerifiedTransaction = {
  index: number
  /** keccak of the signed transaction (of a blob transaction's bare form, without its blobs). */
  hash: Hex
  /**
   * The signer, recovered from the signature (an OP-stack deposit is unsigned: its proven `from`
   * field); undefined where the signature does not recover.
   */
  from: Address | undefined
  transaction: TransactionSerializable | DepositTransaction
}

/**
 * Checks that `proof.transaction` is the transaction at `proof.index` of the block whose header is
 * `header` (verify the header against a hash you trust first, with `verifyBlockHeader`), and
 * decodes it: its recipient, value, input, nonce, fees and signer are then the chain's.
 */
export async function verifyTransactionProof(
  header: BlockHeader,
  proof: TransactionProof,
): Promise<VerifiedTransaction> {
  const blockHash = computeBlockHash(header)
  if (blockHash.toLowerCase() !== proof.block.hash.toLowerCase()) {
    throw new ProofVerificationError(
      'BLOCK_HASH_MISMATCH',
      `the proof is of block ${proof.block.hash}, the header is of ${blockHash}`,
    )
  }
  const proven = await provenTrieValue(
    header.transactionsRoot,
    receiptKey(proof.index),
    proof.proof,
    'TRANSACTION_PROOF_INVALID',
  )
  if (!proven)
    throw new ProofVerificationError('TRANSACTION_PROOF_INVALID', `no transaction at index ${proof.index}`)
  const encoded = bytesToHex(proven)
  if (encoded !== proof.transaction.toLowerCase()) {
    throw new ProofVerificationError(
      'VALUE_MISMATCH',
      'the transaction differs from the one the proof proves',
    )
  }
  let transaction: TransactionSerializable | DepositTransaction
  try {
    transaction = parseTransaction(encoded) as TransactionSerializable | DepositTransaction
  } catch (error) {
    throw new ProofVerificationError(
      'TRANSACTION_UNDECODABLE',
      `the proven transaction is of no type this SDK decodes: ${String(error)}`,
    )
  }
  if (transaction.type === 'deposit') {
    return { index: proof.index, hash: keccak256(encoded), from: transaction.from, transaction }
  }
  // Some nodes (anvil) commit a blob transaction in its network form, with the blobs: its hash is
  // still that of the bare transaction.
  const pooled = 'sidecars' in transaction && Array.isArray(transaction.sidecars)
  const bare = pooled ? serializeTransaction({ ...transaction, sidecars: false } as never) : encoded
  let from: Address | undefined
  try {
    from = await recoverTransactionAddress({ serializedTransaction: encoded as never })
  } catch {
    from = undefined
  }
  return { index: proof.index, hash: keccak256(bare), from, transaction }
}
