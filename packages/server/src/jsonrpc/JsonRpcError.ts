import type { ErrorCode } from '@wallet-backend/sdk/protocol'
import { BaseError } from '../errors/BaseError.js'

/** JSON-RPC 2.0 error codes this endpoint answers with. */
export const RPC_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** Geth's code for a failed call that is the caller's to fix (unknown filter, reverted call, …). */
  server: -32000,
  unauthorized: -32001,
  limitExceeded: -32005,
} as const

/**
 * An error a JSON-RPC call is answered with. `rpcCode` is the numeric JSON-RPC code wallets'
 * libraries switch on; `code` is the backend's stable string code, as on every error.
 */
export class JsonRpcError extends BaseError {
  override readonly name = 'JsonRpcError'
  readonly rpcCode: number
  readonly data: unknown

  constructor(code: ErrorCode, rpcCode: number, message: string, data?: unknown) {
    super(code, message, { status: 200, ...(data === undefined ? {} : { details: { data } }) })
    this.rpcCode = rpcCode
    this.data = data
  }
}

export const invalidParams = (message: string): JsonRpcError =>
  new JsonRpcError('RPC_INVALID_PARAMS', RPC_CODES.invalidParams, message)

/** Geth's wording: libraries (viem, ethers) recognise it and install the filter again. */
export const filterNotFound = (): JsonRpcError =>
  new JsonRpcError('RPC_FILTER_NOT_FOUND', RPC_CODES.server, 'filter not found')
