import type { FilterCode, WatchKind } from './protocol/index.js'

// What the wire carries is defined once, by the schemas of the protocol; these are their types.
export type {
  Account,
  AccountActivity,
  AccountActivityKind,
  AccountMovement,
  BackfillStatus,
  DeliveryItem,
  DeliveryItemOf,
  DeliveryKind,
  Direction,
  ErrorCode,
  FilterCode,
  Interest,
  StateChange,
  Submission,
  SubmissionStatus,
  SubmissionStatusChange,
  TokenInfo,
  WatchKind,
} from './protocol/index.js'

export type Hex = `0x${string}`

/** A filter of an interest, as a client writes it. */
export type Filter = { code: FilterCode; args: unknown[] }
/** A state watch of an interest, as a client writes it. */
export type Watch = { kind: WatchKind; args: unknown[] }
