import type { ErrorCode } from './protocol/index.js'

/** An error answer of the backend: its stable `code`, HTTP `status` and message. */
export class WalletBackendError extends Error {
  override readonly name = 'WalletBackendError'
  constructor(
    /** One of the catalogue; a newer backend may send a code this SDK does not list yet. */
    readonly code: ErrorCode | (string & {}),
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
    /** How long the backend asked to be left alone (`Retry-After`), when it said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
  }
}

/**
 * What a stream reports through `onError`: an `{type:"error"}` frame of the server (its `code`,
 * e.g. `ACK_FAILED`), a closed socket (`STREAM_CLOSED`, with the close code), a connection the
 * server refused before the upgrade (its error `code`, e.g. `TOO_MANY_STREAMS` or
 * `TOO_MANY_CONNECTIONS`, with the HTTP `status`; where the platform hides the answer, as browsers
 * do, `CONNECT_FAILED`), a sign-in that failed before connecting (`SIGN_IN_FAILED`), or an
 * `onItem` that threw (`ITEM_HANDLER_FAILED`: the item comes again after the reconnect).
 * `retryAfterSeconds` is the server's hint (`Retry-After`, or a close reason's "in N s"): the
 * stream waits at least that long before its next attempt.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError'
  constructor(
    readonly code: string,
    message: string,
    /** The WebSocket close code, for `STREAM_CLOSED`. */
    readonly closeCode?: number,
    override readonly cause?: unknown,
    readonly details: { status?: number; retryAfterSeconds?: number } = {},
  ) {
    super(message)
  }

  /** The HTTP status of a refused connection. */
  get status(): number | undefined {
    return this.details.status
  }

  /** How long the server asked the stream to stay away, when it said. */
  get retryAfterSeconds(): number | undefined {
    return this.details.retryAfterSeconds
  }
}

/** `Retry-After` in whole seconds (a number or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  const trimmed = value?.trim() ?? ''
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  // An HTTP date names its weekday and month; Date.parse takes bare numbers ("-3") as years.
  if (!/[a-z]/i.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000))
}
