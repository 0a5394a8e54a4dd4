import { BaseError } from '../../errors/BaseError.js'

/** The node did not answer within the timeout. */
export class RpcTimeoutError extends BaseError {
  override readonly name = 'RpcTimeoutError'
  constructor(url: string, method: string, timeoutMs: number) {
    super('NODE_TIMEOUT', `${method} on ${url} timed out after ${timeoutMs} ms`, {
      status: 504,
      details: { method, timeoutMs },
    })
  }
}

/** The node could not be reached or answered something that is not JSON-RPC (refused, reset, HTTP 5xx). */
export class RpcTransportError extends BaseError {
  override readonly name = 'RpcTransportError'
  constructor(url: string, reason: string, cause?: unknown) {
    super('NODE_TRANSPORT_ERROR', `${url}: ${reason}`, { status: 502, cause })
  }
}

/**
 * The node answered with a JSON-RPC error: the request itself was refused (bad params, reverted
 * call, nonce too low, …). It says nothing about the node's health, so it never causes failover.
 */
export class RpcResponseError extends BaseError {
  override readonly name = 'RpcResponseError'
  readonly rpcCode: number
  readonly data: unknown
  constructor(method: string, error: { code: number; message: string; data?: unknown }) {
    super('NODE_RPC_ERROR', `${method}: ${error.message} (code ${error.code})`, {
      status: 502,
      details: { rpcCode: error.code, rpcMessage: error.message },
    })
    this.rpcCode = error.code
    this.data = error.data
  }
}

/** Every configured node failed; the service is degraded until one answers again. */
export class NodeUnavailableError extends BaseError {
  override readonly name = 'NodeUnavailableError'
  constructor(reasons: string[]) {
    super('NODE_UNAVAILABLE', `No node is available: ${reasons.join('; ')}`, {
      status: 503,
      details: { retryAfterSeconds: 5 },
    })
  }
}

/** Whether the error is about the connection to the node rather than about the request. */
export function isTransportFailure(error: unknown): boolean {
  return error instanceof RpcTimeoutError || error instanceof RpcTransportError
}
