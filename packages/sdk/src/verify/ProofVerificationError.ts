/**
 * What the backend sent does not prove what it claims. `code` says which check failed:
 * BLOCK_HASH_MISMATCH, RECEIPT_PROOF_INVALID, ACCOUNT_PROOF_INVALID, STORAGE_PROOF_INVALID,
 * VALUE_MISMATCH.
 */
export class ProofVerificationError extends Error {
  override readonly name = 'ProofVerificationError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}
