import { BaseError } from '../errors/BaseError.js'

export class BlockNotFoundError extends BaseError {
  override readonly name = 'BlockNotFoundError'
  constructor(block: string) {
    super('BLOCK_NOT_FOUND', `block ${block} is not stored here (not reached yet, pruned, or never seen)`, {
      status: 404,
    })
  }
}

export class BlockNotCanonicalError extends BaseError {
  override readonly name = 'BlockNotCanonicalError'
  constructor(hash: string) {
    super('BLOCK_NOT_CANONICAL', `block ${hash} is no longer on the canonical chain`, { status: 409 })
  }
}

export class IndexOutOfRangeError extends BaseError {
  override readonly name = 'IndexOutOfRangeError'
  constructor(index: number, count: number) {
    super('INDEX_OUT_OF_RANGE', `the block has ${count} transactions; there is no index ${index}`, {
      status: 400,
      details: { index, count },
    })
  }
}

/**
 * The block was stored on the node's word (`--unknown-transaction-types trust-node`): its
 * transactions and receipts were not checked against its roots, so no proof of them is given.
 */
export class BlockNotVerifiedError extends BaseError {
  override readonly name = 'BlockNotVerifiedError'
  constructor(hash: string) {
    super(
      'BLOCK_NOT_VERIFIED',
      `block ${hash} holds transaction types this backend cannot check; it was accepted on the node's word and nothing in it is proven`,
      { status: 409, details: { hash } },
    )
  }
}
