import { BaseError } from '../../errors/BaseError.js'

/**
 * The leader's term is no longer the current one: another instance was elected while this one
 * still ran. Whatever it was about to commit is rolled back, and it steps down.
 */
export class LeadershipLostError extends BaseError {
  override readonly name = 'LeadershipLostError'
  constructor(term: number) {
    super('LEADERSHIP_LOST', `Term ${term} has ended: another instance follows the chain now`, {
      status: 503,
      details: { term, retryAfterSeconds: 1 },
    })
  }
}

/** A write that needs the chain follower reached a standby that knows of no leader to forward it to. */
export class NoLeaderError extends BaseError {
  override readonly name = 'NoLeaderError'
  constructor(reason: string) {
    super('NO_LEADER', `No instance follows the chain right now (${reason}); try again shortly`, {
      status: 503,
      details: { retryAfterSeconds: 1 },
    })
  }
}
