import { ERROR_CODES, type ErrorCode } from '@wallet-backend/sdk/protocol'

/**
 * Codes of errors only an operator reads (start-up, configuration, the embedded node): should one
 * reach a client it is answered as INTERNAL, since its message may name internals.
 */
export type OperatorErrorCode =
  | 'CONFIG_INVALID'
  | 'ANVIL_START_FAILED'
  | 'ANVIL_STATE_INCOMPLETE'
  | 'CHAIN_ID_MISMATCH'
  | 'DATA_DIR_EXPOSED'
  | 'LIFECYCLE_INVALID_TRANSITION'
  | 'CHAIN_PIN_INVALID'
  | 'NODE_SUBSCRIPTIONS_UNSUPPORTED'

const CLIENT_CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/** Whether a client may be told this code (it is in the wire contract's catalogue). */
export function isClientErrorCode(code: string): code is ErrorCode {
  return CLIENT_CODES.has(code)
}

/**
 * Every error the backend raises on purpose. `code` is stable and machine-readable (clients and
 * operators match on it), one of the catalogue (`ErrorCode`, what clients can see) or an
 * operator's; `status` is the HTTP status the API answers with when the error reaches a client;
 * `details` is safe to show to that client.
 */
export class BaseError extends Error {
  override readonly name: string = 'BaseError'
  readonly code: ErrorCode | OperatorErrorCode
  readonly status: number
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: ErrorCode | OperatorErrorCode,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status ?? 500
    this.details = options.details
  }
}
