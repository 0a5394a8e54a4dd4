import type { SubmissionStatus } from './protocol/index.js'

// What the wire carries is defined once, by the schemas of the protocol; these are their types.
export type {
  AccountActivity,
  AccountMovement,
  DeliveryItem,
  DeliveryItemOf,
  DeliveryKind,
  Direction,
  ErrorCode,
  StateChange,
  SubmissionStatus,
  SubmissionStatusChange,
  TokenInfo,
} from './protocol/index.js'

export type Hex = `0x${string}`

export type FilterCode = 'all' | 'logs' | 'calls' | 'transfers' | 'value'
export type Filter = { code: FilterCode; args: unknown[] }

/** Contract state to watch: an account field, a storage slot (`[slot]`) or a view call (`[callData]`). */
export type WatchKind = 'balance' | 'nonce' | 'codeHash' | 'storageRoot' | 'slot' | 'call'
export type Watch = { kind: WatchKind; args: unknown[] }

export type Interest = {
  address: Hex
  startBlock: number | null
  abi: unknown[] | null
  deployed: boolean
  filters: (Filter & { id: number })[]
  watches: (Watch & { id: number })[]
  /** The back-fill of history its `startBlock` asked for; `failed` after bounded retries, with the error. */
  backfill: BackfillStatus | null
  createdAt: string
  updatedAt: string
}

/** A back-fill of history; a `failed` one gave up after bounded retries and must be asked for again. */
export type BackfillStatus = {
  status: 'pending' | 'running' | 'done' | 'failed'
  fromBlock: number
  toBlock: number
  nextBlock: number
  error: string | null
}

/** What an account interest follows of its address. */
export type AccountActivityKind = 'native' | 'tokens' | 'approvals' | 'userOps' | 'internal'

/** An interest in everything that touches one of the wallet's own addresses, in any contract. */
export type Account = {
  address: Hex
  activity: AccountActivityKind[]
  /** In listings: the back-fill of history its `startBlock` asked for, as for an interest. */
  backfill?: BackfillStatus | null
  createdAt: string
  updatedAt: string
}

/** A transaction the client submitted, as the backend tracks it. */
export type Submission = {
  hash: Hex
  status: SubmissionStatus
  from: Hex
  nonce: number
  /** The interest it is for (null: a contract creation at an address not watched). */
  interest: Hex | null
  /** Included/final: its block. Replaced: the block of the transaction that took its nonce. */
  block: { number: number; hash: Hex } | null
  confirmations: number | null
  outcome: {
    success: boolean
    /** Decimal. */
    gasUsed: string
    effectiveGasPrice: string | null
    contractAddress: Hex | null
    txIndex: number
  } | null
  replacedBy: Hex | null
  submittedAt: string
  updatedAt: string
  /** When it is reported dropped if still pending. */
  expiresAt: string
}
