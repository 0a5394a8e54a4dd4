import { BaseError } from '../errors/BaseError.js'

/** A client route was called before the service finished connecting to its database and node. */
export class NotReadyError extends BaseError {
  override readonly name = 'NotReadyError'
  constructor(state: string) {
    super('NOT_READY', `The service is ${state}; try again shortly`, {
      status: 503,
      details: { state, retryAfterSeconds: 2 },
    })
  }
}
