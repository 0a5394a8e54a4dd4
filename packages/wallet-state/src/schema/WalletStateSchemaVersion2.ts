import { InvalidEventError } from '../errors.js'
import { createOperations, type EventRule } from './createOperations.js'
import { V1_RULES } from './WalletStateSchemaVersion1.js'

/** A contract interest is identified by its chain and its (lower-case) address. */
const interestKey = (payload: Record<string, unknown>): string => {
  const { chainId, address } = payload
  if (!Number.isSafeInteger(chainId) || typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new InvalidEventError('payload needs chainId (integer) and address (20-byte hex)')
  }
  return `${chainId}:${address.toLowerCase()}`
}

const addressKey = (payload: Record<string, unknown>): string => {
  const { address } = payload
  if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new InvalidEventError('payload.address must be a 20-byte hex address')
  }
  return address.toLowerCase()
}

/**
 * Version 2: everything of version 1, plus what a chain wallet syncs between its devices — the
 * contract interests it registers with its backend (filters, state watches, start block, label)
 * and its address book.
 */
export const V2_RULES: Readonly<Record<string, EventRule>> = Object.freeze({
  ...V1_RULES,
  add_contract_interest: { kind: 'put', collection: 'contractInterests', key: interestKey },
  remove_contract_interest: { kind: 'delete', collection: 'contractInterests', key: interestKey },
  add_address_book_entry: { kind: 'put', collection: 'addressBook', key: addressKey },
  remove_address_book_entry: { kind: 'delete', collection: 'addressBook', key: addressKey },
})

export const WalletStateSchemaVersion2 = createOperations(2, { ...V2_RULES })
