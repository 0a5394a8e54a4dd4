import { BaseError } from '../errors/BaseError.js'

/** The database cannot be reached; the service degrades and retries rather than failing requests as bugs. */
export class StorageUnavailableError extends BaseError {
  override readonly name = 'StorageUnavailableError'
  constructor(cause: unknown) {
    super('STORAGE_UNAVAILABLE', `The database is unavailable: ${(cause as Error)?.message ?? cause}`, {
      status: 503,
      details: { retryAfterSeconds: 5 },
      cause,
    })
  }
}

/**
 * Every pooled connection stayed busy for the pool's wait bound: the database answers, but more
 * requests want it at once than it has connections for. The request is refused with a hint to
 * retry shortly, rather than failing as a bug (500) or marking the database lost.
 */
export class StorageBusyError extends BaseError {
  override readonly name = 'StorageBusyError'
  constructor(cause: unknown) {
    super('STORAGE_BUSY', 'The database is busy; try again shortly', {
      status: 503,
      details: { retryAfterSeconds: 1 },
      cause,
    })
  }
}

/** pg-pool's words for a wait for a free connection that ran out (it sets no code). */
export function isPoolWaitTimeout(error: unknown): boolean {
  return error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message)
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * Whether an error means the database is out of reach (rather than that a statement was wrong):
 * socket errors, PostgreSQL's connection-exception class 08 and shutdown codes 57P0x.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (error instanceof StorageUnavailableError) return true
  const code = (error as { code?: unknown })?.code
  if (
    typeof code === 'string' &&
    (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P0'))
  ) {
    return true
  }
  const message = error instanceof Error ? error.message : ''
  return /Connection terminated|connection timeout|Client has encountered a connection error|PGlite is closed/i.test(
    message,
  )
}
