import { BaseError } from '../../errors/BaseError.js'

/**
 * Something went wrong between the backend and one node endpoint (as opposed to the node refusing
 * the request). `reason` says what without naming the endpoint, so that it can be repeated where
 * endpoint URLs must not appear.
 */
export abstract class RpcEndpointError extends BaseError {
  abstract readonly reason: string
}

/** The endpoint did not answer within the timeout. */
export class RpcTimeoutError extends RpcEndpointError {
  override readonly name = 'RpcTimeoutError'
  readonly reason: string
  readonly method: string
  readonly timeoutMs: number

  constructor(url: string, method: string, timeoutMs: number) {
    super('NODE_TIMEOUT', `${method} on ${url} timed out after ${timeoutMs} ms`, {
      status: 504,
      details: { method, timeoutMs },
    })
    this.reason = `${method} timed out after ${timeoutMs} ms`
    this.method = method
    this.timeoutMs = timeoutMs
  }
}

/**
 * The endpoint could not be reached, dropped the connection, or answered something that is not
 * JSON-RPC (HTTP 5xx, 429, an HTML error page, …).
 */
export class RpcTransportError extends RpcEndpointError {
  override readonly name = 'RpcTransportError'
  readonly reason: string
  /** How long the endpoint asked to be left alone (HTTP 429/503 `Retry-After`), if it said. */
  readonly retryAfterMs: number | undefined

  constructor(url: string, reason: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super('NODE_TRANSPORT_ERROR', `${url}: ${reason}`, { status: 502, cause: options.cause })
    this.reason = reason
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * The endpoint answers, but for another chain than the one this client serves: sending it traffic
 * would mix two chains' data, so it is treated as down until it serves the right chain again.
 */
export class RpcChainMismatchError extends RpcEndpointError {
  override readonly name = 'RpcChainMismatchError'
  readonly reason: string
  readonly expected: number
  readonly actual: number

  constructor(url: string, expected: number, actual: number) {
    super('NODE_CHAIN_MISMATCH', `${url} serves chain ${actual}, not chain ${expected}`, {
      status: 502,
      details: { expected, actual },
    })
    this.reason = `serves chain ${actual}, not chain ${expected}`
    this.expected = expected
    this.actual = actual
  }
}

/**
 * The node answered with a JSON-RPC error: the request itself was refused (invalid params, reverted
 * call, nonce too low, method not supported, range too large, …). It says nothing about the node's
 * health, so it never causes failover. The node's numeric code is `rpcCode` — `code` is the
 * backend's own stable code, as on every error.
 */
export class RpcResponseError extends BaseError {
  override readonly name = 'RpcResponseError'
  readonly method: string
  readonly rpcCode: number
  readonly rpcMessage: string
  readonly data: unknown

  constructor(method: string, error: { code: number; message: string; data?: unknown }) {
    super('NODE_RPC_ERROR', `${method}: ${error.message} (code ${error.code})`, {
      status: 502,
      details: { method, rpcCode: error.code, rpcMessage: error.message },
    })
    this.method = method
    this.rpcCode = error.code
    this.rpcMessage = error.message
    this.data = error.data
  }
}

/**
 * No endpoint could serve the request: every one failed, or is backing off after failures. The
 * message lists each endpoint's reason by its position in the configured list — never its URL,
 * because this error reaches API clients (as a 503 with `Retry-After`).
 */
export class NodeUnavailableError extends BaseError {
  override readonly name = 'NodeUnavailableError'
  /** The errors behind it, one per endpoint that was tried or is backing off. */
  readonly errors: readonly Error[]
  readonly retryAfterMs: number

  constructor(failures: { index: number; error: Error }[], retryAfterMs: number) {
    const reasons = failures.map(
      ({ index, error }) =>
        `endpoint #${index}: ${error instanceof RpcEndpointError ? error.reason : error.message}`,
    )
    super('NODE_UNAVAILABLE', `No node is available (${reasons.join('; ') || 'no endpoint'})`, {
      status: 503,
      details: { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) },
      cause: failures.at(-1)?.error,
    })
    this.errors = failures.map((failure) => failure.error)
    this.retryAfterMs = retryAfterMs
  }
}

/** `subscribe` was called on a client without a WebSocket endpoint: the caller has to poll. */
export class SubscriptionsUnsupportedError extends BaseError {
  override readonly name = 'SubscriptionsUnsupportedError'

  constructor() {
    super(
      'NODE_SUBSCRIPTIONS_UNSUPPORTED',
      'No ws:// or wss:// node endpoint is configured to subscribe on',
      {
        status: 501,
      },
    )
  }
}

/** Whether the error is about the connection to one endpoint rather than about the request. */
export function isTransportFailure(error: unknown): error is RpcEndpointError {
  return error instanceof RpcEndpointError
}
