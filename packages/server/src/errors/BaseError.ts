/**
 * Every error the backend raises on purpose. `code` is stable and machine-readable (clients and
 * operators match on it); `status` is the HTTP status the API answers with when the error reaches
 * a client; `details` is safe to show to that client.
 */
export class BaseError extends Error {
  override readonly name: string = 'BaseError'
  readonly code: string
  readonly status: number
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: string,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status ?? 500
    this.details = options.details
  }
}
