import type { DeliveryItem, Filter, Hex } from '@wallet-backend/sdk'

/** One contract a soak client watches, with the one filter it installs on it. */
export type SoakInterest = { address: Hex; filter: Filter }

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
  received: ObservedItem[]
}

/** What a client should hold at the end: one match of its filters on the node's final chain. */
export type ExpectedItem = {
  kind: 'tx' | 'log'
  interest: Hex
  blockHash: Hex
  blockNumber: number
  txHash: Hex
  txIndex: number
  logIndex: number | null
  log?: { address: Hex; topics: Hex[]; data: Hex }
}

/** Identifies a match independent of its cursor: kind, block, position in it, and interest. */
export function matchKey(match: {
  kind: string
  interest: Hex | null
  blockHash: Hex | null
  txIndex: number | null
  logIndex: number | null
}): string {
  const position = match.kind === 'log' ? match.logIndex : match.txIndex
  return `${match.kind}:${match.blockHash?.toLowerCase()}:${position}:${match.interest?.toLowerCase()}`
}

/** The key of a delivered item, in the same form as `matchKey` of an expected one. */
export function itemKey(item: DeliveryItem): string {
  return matchKey({
    kind: item.kind,
    interest: item.interest,
    blockHash: item.block?.hash ?? null,
    txIndex: item.txIndex,
    logIndex: item.logIndex,
  })
}
