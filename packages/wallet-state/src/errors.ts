/** Every error of the library: a stable `code` to branch on, and a message for people. */
export class WalletStateError extends Error {
  override readonly name: string = 'WalletStateError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** An event (or container) of a schema version this build does not know: the app needs an update. */
export class UnsupportedSchemaVersionError extends WalletStateError {
  override readonly name = 'UnsupportedSchemaVersionError'
  constructor(
    readonly version: number,
    readonly supported: number,
  ) {
    super(
      'UNSUPPORTED_SCHEMA_VERSION',
      `wallet state uses schema version ${version}, this app knows up to ${supported}: update the app`,
    )
  }
}

/** The hash chain is broken: `index` is the first event whose parentHash does not match. */
export class ChainValidationError extends WalletStateError {
  override readonly name = 'ChainValidationError'
  constructor(
    readonly index: number,
    readonly expected: string,
    readonly actual: string,
    reason = 'parentHash does not match',
  ) {
    super('CHAIN_BROKEN', `event ${index}: ${reason} (expected ${expected}, found ${actual})`)
  }
}

/**
 * Two containers of different wallets (different genesis hashes): they are not versions of one
 * wallet state. The code is kept from when the test was a shared event.
 */
export class NoCommonAncestorError extends WalletStateError {
  override readonly name = 'NoCommonAncestorError'
  constructor(
    readonly a: unknown,
    readonly b: unknown,
  ) {
    super('NO_COMMON_ANCESTOR', 'the two wallet states belong to different wallets; they cannot be merged')
  }
}

/** Decryption failed: wrong key or passphrase, or the envelope was altered. */
export class DecryptionError extends WalletStateError {
  override readonly name = 'DecryptionError'
  constructor(message = 'cannot decrypt the wallet state: wrong key or passphrase, or altered data') {
    super('DECRYPTION_FAILED', message)
  }
}

/** An event or container that is not well-formed. */
export class InvalidEventError extends WalletStateError {
  override readonly name = 'InvalidEventError'
  constructor(message: string) {
    super('INVALID_EVENT', message)
  }
}
