/** Orders concurrent changes: (timestampSeconds, eventId), compared in that order. */
export type Stamp = [timestampSeconds: number, eventId: string]

export type Stamped<T> = { value: T; stamp: Stamp }

/** One change to the wallet state. `payload` depends on `type`; the rest is the chain. */
export type WalletEvent = {
  schemaVersion: number
  eventId: string
  parentHash: string
  timestampSeconds: number
  type: string
  payload: Record<string, unknown>
}

export type FoldInfo = {
  /** Hash of the last event folded into the state (or of the genesis): the first event's parent. */
  tipHash: string
  /** Events folded so far. */
  count: number
  /** Hashes of the latest folded events, oldest first, ending with tipHash: merge finds ancestors here. */
  recent: string[]
}

/** The state all events reduce over. Collections are keyed by their items' ids. */
export type WalletState = {
  schemaVersion: number
  credentials: Record<string, Stamped<Record<string, unknown>>>
  keypairs: Record<string, Stamped<Record<string, unknown>>>
  presentations: Record<string, Stamped<Record<string, unknown>>>
  credentialIssuanceSessions: Record<string, Stamped<Record<string, unknown>>>
  settings: { values: Record<string, unknown>; stamp: Stamp | null }
  /** Schema version 2 and later. */
  contractInterests?: Record<string, Stamped<Record<string, unknown>>>
  addressBook?: Record<string, Stamped<Record<string, unknown>>>
  /** Deletions, kept (as `collection:id` → stamp) so that an old branch cannot bring a deleted item back. */
  tombstones: Record<string, Stamp>
  fold: FoldInfo
}

/** The seed's container: a base state, the events after it, and the hash of the newest one. */
export type WalletStateContainer = {
  S: WalletState
  events: WalletEvent[]
  lastEventHash: string
}

export type Collection =
  | 'credentials'
  | 'keypairs'
  | 'presentations'
  | 'credentialIssuanceSessions'
  | 'contractInterests'
  | 'addressBook'
