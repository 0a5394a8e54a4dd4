import type { ErrorCode } from '@wallet-backend/sdk/protocol'
import { BaseError } from '../errors/BaseError.js'

/**
 * Why a submitted transaction was refused — by the backend's own checks or by the node. Each
 * reason has its stable code and status: 400 for a transaction that can never be accepted as it
 * is, 409 for one that conflicts with the sender's other transactions (a fresh nonce or a higher
 * fee fixes it), 413 for one too large.
 */
export class SubmissionRejectedError extends BaseError {
  override readonly name = 'SubmissionRejectedError'
  constructor(code: ErrorCode, message: string, status = 400, details?: Record<string, unknown>) {
    super(code, message, { status, ...(details ? { details } : {}) })
  }
}

/**
 * The node could not be asked, or did not answer: nothing was recorded, and the same raw
 * transaction may be sent again (a repeat is recognised, not duplicated).
 */
export class SubmissionNodeUnavailableError extends BaseError {
  override readonly name = 'SubmissionNodeUnavailableError'
  constructor(reason: string, retryAfterSeconds: number, cause?: unknown) {
    super('NODE_UNAVAILABLE', `The node cannot take transactions right now (${reason}); try again`, {
      status: 503,
      details: { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) },
      cause,
    })
  }
}

export class TransactionNotFoundError extends BaseError {
  override readonly name = 'TransactionNotFoundError'
  constructor(hash: string) {
    super('TRANSACTION_NOT_FOUND', `No transaction ${hash} was submitted by this client`, { status: 404 })
  }
}

export class TooManyPendingSubmissionsError extends BaseError {
  override readonly name = 'TooManyPendingSubmissionsError'
  constructor(limit: number) {
    super(
      'TOO_MANY_PENDING_SUBMISSIONS',
      `At most ${limit} submitted transactions may be pending at once; wait for some to be included`,
      { status: 409, details: { limit } },
    )
  }
}
