import type { AccountActivityKind, DeliveryItem, Filter, Hex, Watch } from '@wallet-backend/sdk'

/**
 * One contract a soak client watches, with the one filter it installs on it (none: it follows
 * only state), its state watches, and the block its history is back-filled from.
 */
export type SoakInterest = { address: Hex; filter?: Filter; watches?: Watch[]; startBlock?: number }

/** One of the client's own addresses it follows (an account interest). */
export type SoakAccount = { address: Hex; activity: AccountActivityKind[] }

/** A transaction the client signed and sent through `POST /v1/transactions`. */
export type SoakSubmission = {
  hash: Hex
  from: Hex
  nonce: number
  /** The backend answered 2xx: it recorded the transaction and owes it status items. */
  accepted: boolean
}

/** One item as a client saw it arrive, with what the client knew when it arrived. */
export type ObservedItem = {
  item: DeliveryItem
  /**
   * The highest cursor the server had confirmed as acknowledged (an `acked` frame or an ack
   * response) before this item was asked for or arrived: anything at or below it is a repeat.
   */
  ackedBefore: number
  /** Which connection or poll brought it, for the report. */
  via: string
}

/** Everything one client saw during a run. */
export type ClientRecord = {
  name: string
  interests: SoakInterest[]
  accounts?: SoakAccount[]
  submissions?: SoakSubmission[]
  /** The soak makes this client dormant now and then: `gap` items are expected. */
  dormant?: boolean
  /** Blocks below this are none of the client's business (a back-filler's history starts here). */
  matchedFrom?: number
  received: ObservedItem[]
}

/** What a client should hold at the end: one match of its filters on the node's final chain. */
export type ExpectedItem = {
  kind: 'tx' | 'log' | 'account'
  /** The contract of the interest, or the account of an account interest. */
  interest: Hex
  blockHash: Hex
  blockNumber: number
  txHash: Hex
  txIndex: number
  logIndex: number | null
  log?: { address: Hex; topics: Hex[]; data: Hex }
  /** Of an `account` match: what its `data` must say. */
  activity?: { type: 'native' | 'token'; direction: 'in' | 'out' | 'self'; amount?: string }
}

/**
 * Identifies a match independent of its cursor: kind, block, position in it (a log's index, or a
 * transaction's for a `tx` match and native account activity), and interest.
 */
export function matchKey(match: {
  kind: string
  interest: Hex | null
  blockHash: Hex | null
  txIndex: number | null
  logIndex: number | null
}): string {
  const position =
    match.kind === 'tx' || match.logIndex === null ? `tx${match.txIndex}` : `log${match.logIndex}`
  return `${match.kind}:${match.blockHash?.toLowerCase()}:${position}:${match.interest?.toLowerCase()}`
}

/** The key of a delivered item, in the same form as `matchKey` of an expected one. */
export function itemKey(item: DeliveryItem): string {
  return matchKey({
    kind: item.kind,
    // An account item's interest is the account it is about.
    interest: item.kind === 'account' ? ((item.data?.account as Hex | undefined) ?? null) : item.interest,
    blockHash: item.block?.hash ?? null,
    txIndex: item.txIndex,
    logIndex: item.kind === 'account' && item.data?.type === 'native' ? null : item.logIndex,
  })
}
