import { BaseError } from '../../errors/BaseError.js'

/** Sign-in or session failures; `code` says which, the status is 400 for malformed input, 401 otherwise. */
export class AuthError extends BaseError {
  override readonly name = 'AuthError'
  constructor(
    code:
      | 'INVALID_SIWE_MESSAGE'
      | 'CHALLENGE_UNKNOWN'
      | 'SIWE_FIELD_MISMATCH'
      | 'SIWE_DOMAIN_MISMATCH'
      | 'SIWE_URI_MISMATCH'
      | 'SIWE_ISSUED_AT_INVALID'
      | 'SIWE_NOT_YET_VALID'
      | 'SIWE_EXPIRED'
      | 'SIGNATURE_INVALID'
      | 'PROOF_OF_WORK_REQUIRED'
      | 'PROOF_OF_WORK_INVALID'
      | 'PROOF_OF_WORK_RAISED'
      | 'SESSION_REQUIRED'
      | 'SESSION_INVALID',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, {
      status: code === 'INVALID_SIWE_MESSAGE' ? 400 : 401,
      ...(details ? { details } : {}),
    })
  }
}
