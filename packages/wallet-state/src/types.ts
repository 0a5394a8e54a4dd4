/**
 * Orders changes: (timestampSeconds, eventId), then the event's content hash, compared in that
 * order. States of fold format 1 hold stamps without the content hash; an absent one sorts first.
 */
export type Stamp = [timestampSeconds: number, eventId: string, contentHash?: string]

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

/** Fold format 1, written by earlier builds: S is the replay of a prefix of one device's log. */
export type LegacyFoldInfo = {
  format?: undefined
  /** Hash of the last event folded into the state (or of the genesis): the first event's parent. */
  tipHash: string
  /** Events folded so far. */
  count: number
  /** Hashes of the latest folded events, oldest first, ending with tipHash. */
  recent: string[]
}

/**
 * Fold format 2: S is the last-writer-wins join of every event stamped up to `watermark`; the log
 * holds the events above it. `tipHash` is a hash of S's content (wallet and watermark included),
 * so equal states have equal tips and every merge order gives the same bytes.
 */
export type LwwFoldInfo = {
  format: 2
  /** The wallet's genesis hash: containers of different wallets are never merged. */
  wallet: string
  /** The greatest stamp folded into S (null: nothing folded yet). */
  watermark: Stamp | null
  tipHash: string
}

export type FoldInfo = LegacyFoldInfo | LwwFoldInfo

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
