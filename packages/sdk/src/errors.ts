/** An error answer of the backend: its stable `code`, HTTP `status` and message. */
export class WalletBackendError extends Error {
  override readonly name = 'WalletBackendError'
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
}
