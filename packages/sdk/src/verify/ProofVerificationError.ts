/**
 * What the backend sent does not prove what it claims. `code` says which check failed:
 * BLOCK_HASH_MISMATCH, RECEIPT_PROOF_INVALID, TRANSACTION_PROOF_INVALID, ACCOUNT_PROOF_INVALID,
 * STORAGE_PROOF_INVALID, VALUE_MISMATCH, TRANSACTION_UNDECODABLE; NOT_PROVABLE for what no
 * proof can show; BLOCK_NOT_VERIFIED for transactions and receipts of a block the backend took on
 * its node's word (transaction types it cannot check).
 */
export class ProofVerificationError extends Error {
  override readonly name = 'ProofVerificationError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}
