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
