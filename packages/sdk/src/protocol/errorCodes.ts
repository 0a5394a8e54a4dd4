import { Type } from '@sinclair/typebox'

/**
 * Every code an error answer (or a stream's `error` frame) of the backend can carry, by what went
 * wrong. Codes are stable: clients match on them; messages are for people and may change.
 */
export const ERROR_CODES = [
  // The request itself
  'INVALID_REQUEST',
  'INVALID_JSON',
  'INVALID_MESSAGE',
  'INVALID_CONTENT_LENGTH',
  'INVALID_URL',
  'INVALID_STRING',
  'INPUT_TOO_DEEP',
  'BAD_REQUEST',
  'QUERY_TOKEN_NOT_ALLOWED',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  // Sign-in and sessions
  'INVALID_SIWE_MESSAGE',
  'CHALLENGE_UNKNOWN',
  'SIWE_FIELD_MISMATCH',
  'SIWE_DOMAIN_MISMATCH',
  'SIWE_URI_MISMATCH',
  'SIWE_ISSUED_AT_INVALID',
  'SIWE_NOT_YET_VALID',
  'SIWE_EXPIRED',
  'SIGNATURE_INVALID',
  'PROOF_OF_WORK_REQUIRED',
  'PROOF_OF_WORK_INVALID',
  'PROOF_OF_WORK_RAISED',
  'SESSION_REQUIRED',
  'SESSION_INVALID',
  // Interests, filters, watches, accounts
  'INVALID_FILTER',
  'INVALID_WATCH',
  'INVALID_ABI',
  'ABI_TOO_LARGE',
  'TOO_MANY_FILTERS',
  'TOO_MANY_WATCHES',
  'TOO_MANY_INTERESTS',
  'TOO_MANY_ACCOUNTS',
  'FILTER_COST_EXCEEDED',
  'BACKFILL_TOO_LARGE',
  'INTEREST_NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  // Deliveries and the stream
  'CURSOR_OUT_OF_RANGE',
  'TOO_MANY_STREAMS',
  'ACK_FAILED',
  // Transactions
  'TX_TOO_LARGE',
  'TX_MALFORMED',
  'TX_TYPE_UNSUPPORTED',
  'TX_UNSIGNED',
  'TX_CHAIN_ID_MISSING',
  'TX_WRONG_CHAIN',
  'TX_SIGNATURE_INVALID',
  'TX_NOT_FOR_INTEREST',
  'TX_REJECTED',
  'NONCE_TOO_LOW',
  'NONCE_TOO_HIGH',
  'REPLACEMENT_UNDERPRICED',
  'INSUFFICIENT_FUNDS',
  'FEE_TOO_LOW',
  'GAS_TOO_LOW',
  'GAS_LIMIT_TOO_HIGH',
  'TOO_MANY_PENDING_SUBMISSIONS',
  'TRANSACTION_NOT_FOUND',
  // Proofs
  'BLOCK_NOT_FOUND',
  'BLOCK_NOT_CANONICAL',
  'BLOCK_NOT_VERIFIED',
  'INDEX_OUT_OF_RANGE',
  // Wallet state
  'WALLET_STATE_NOT_FOUND',
  'WALLET_STATE_VERSION_NOT_FOUND',
  'WALLET_STATE_BODY_REQUIRED',
  'WALLET_STATE_TOO_LARGE',
  'PRECONDITION_REQUIRED',
  'PRECONDITION_FAILED',
  // Limits
  'RATE_LIMITED',
  'TOO_MANY_CONNECTIONS',
  // Operators
  'ADMIN_UNAUTHORIZED',
  'CLIENT_NOT_FOUND',
  'PLAN_NOT_FOUND',
  'INVALID_PLAN_NAME',
  'FORWARD_REFUSED',
  // The service and what it depends on
  'NOT_READY',
  'NO_LEADER',
  'LEADERSHIP_LOST',
  'STORAGE_UNAVAILABLE',
  'STORAGE_BUSY',
  'NODE_UNAVAILABLE',
  'NODE_TIMEOUT',
  'NODE_TRANSPORT_ERROR',
  'NODE_RPC_ERROR',
  'NODE_CHAIN_MISMATCH',
  'NODE_BLOCK_MISSING',
  'NODE_DATA_INCONSISTENT',
  'TRANSACTION_TYPE_UNSUPPORTED',
  // The JSON-RPC endpoint (each also carries its JSON-RPC numeric code)
  'RPC_PARSE_ERROR',
  'RPC_INVALID_REQUEST',
  'RPC_INVALID_BATCH',
  'RPC_INVALID_PARAMS',
  'RPC_METHOD_NOT_FOUND',
  'RPC_FILTER_NOT_FOUND',
  'RPC_TOO_MANY_FILTERS',
  'RPC_KEY_INVALID',
  'RPC_KEY_NOT_FOUND',
  'INTERNAL',
] as const

/** A stable error code (see ERROR_CODES). */
export type ErrorCode = (typeof ERROR_CODES)[number]

/**
 * Serialized as a string: a client should expect codes it does not know yet (from a newer
 * backend) and treat them by their HTTP status.
 */
export const ErrorCode = Type.Unsafe<ErrorCode>(
  Type.String({ description: 'Stable machine-readable error code, e.g. INVALID_REQUEST' }),
)

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * Whether `value` is one of the codes this version knows.
 *
 * @example
 * isErrorCode('RATE_LIMITED') // true
 * isErrorCode('SOMETHING_NEWER') // false: a newer backend's code, to be treated by its status
 */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN.has(value)
}
