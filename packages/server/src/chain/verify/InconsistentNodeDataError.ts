import { BaseError } from '../../errors/BaseError.js'

/** The node sent data that does not hash to what it claims; nothing of it may be stored. */
export class InconsistentNodeDataError extends BaseError {
  override readonly name = 'InconsistentNodeDataError'
  constructor(message: string, details: Record<string, unknown>) {
    super('NODE_DATA_INCONSISTENT', message, { status: 502, details })
  }
}
