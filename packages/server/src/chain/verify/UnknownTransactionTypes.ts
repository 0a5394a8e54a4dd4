/**
 * What to do with a block holding transactions of a type this backend cannot re-encode (an
 * Arbitrum Nitro type, a chain's own): `refuse` it, so nothing unchecked is ever stored, or
 * `trust-node`: store it on the node's word, marked as not verified.
 */
export type UnknownTransactionTypes = 'refuse' | 'trust-node'

export const UNKNOWN_TRANSACTION_TYPES: readonly UnknownTransactionTypes[] = ['refuse', 'trust-node']
