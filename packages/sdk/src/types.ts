export type Hex = `0x${string}`

export type FilterCode = 'all' | 'logs' | 'calls' | 'transfers' | 'value'
export type Filter = { code: FilterCode; args: unknown[] }

/** Contract state to watch: an account field, a storage slot (`[slot]`) or a view call (`[callData]`). */
export type WatchKind = 'balance' | 'nonce' | 'codeHash' | 'storageRoot' | 'slot' | 'call'
export type Watch = { kind: WatchKind; args: unknown[] }

/** What a `state` item carries in `data`. */
export type StateChange = {
  watch: Watch & { id: number }
  /** Hex quantity (account fields), 32-byte word (slot), or `{ result }` / `{ reverted, error }` (call). */
  value: unknown
  /** The value it replaces and the block it was read at, when `reason` is `changed`. */
  previous: { value: unknown; blockNumber: number } | null
  reason: 'initial' | 'changed' | 'deployed' | 'reorg'
  /** A view call's result decoded with the interest's ABI. */
  decoded?: { name: string; result: unknown }
}

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

export type DeliveryKind =
  | 'tx'
  | 'log'
  | 'state'
  | 'deployed'
  | 'submitted-status'
  | 'removed'
  | 'gap'
  | 'account'

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

export type Direction = 'in' | 'out' | 'self'

/** What a token says of itself (null where it has no such function). */
export type TokenInfo = { name: string | null; symbol: string | null; decimals: number | null }

/** What moved in an `account` item (amounts, token ids and values as decimal strings). */
export type AccountMovement =
  | { type: 'native'; direction: Direction; counterparty: Hex | null; value: string; success: boolean }
  | {
      type: 'token'
      standard: 'erc20' | 'erc721' | 'erc1155'
      token: Hex
      direction: Direction
      counterparty: Hex
      operator?: Hex
      /** ERC-20 and ERC-1155 single: the amount. */
      amount?: string
      /** ERC-721 and ERC-1155 single: the token id. */
      tokenId?: string
      /** ERC-1155 batch: ids and amounts, pairwise. */
      tokenIds?: string[]
      amounts?: string[]
      /** On an account's first item of this token. */
      tokenInfo?: TokenInfo
    }
  | {
      type: 'approval'
      standard: 'erc20' | 'erc721' | 'approvalForAll'
      token: Hex
      spender: Hex
      amount?: string
      tokenId?: string
      approved?: boolean
      tokenInfo?: TokenInfo
    }
  | {
      /** Ether moved by a call inside a transaction, read from the node's traces. */
      type: 'internal'
      direction: Direction
      counterparty: Hex
      value: string
      /** Where the call sits in the transaction's call tree. */
      traceAddress: number[]
    }
  | {
      type: 'userOp'
      entryPoint: Hex
      userOpHash: Hex
      paymaster: Hex
      nonce: string
      success: boolean
      actualGasCost: string
      actualGasUsed: string
    }

/** The `data` of an `account` item: the account it is for and what moved. */
export type AccountActivity = { account: Hex } & AccountMovement

/** One item of the client's queue. */
export type DeliveryItem = {
  cursor: number
  kind: DeliveryKind
  interest: Hex | null
  filterIds: number[]
  block: { number: number; hash: Hex } | null
  txHash: Hex | null
  txIndex: number | null
  logIndex: number | null
  confirmations: number | null
  final: boolean
  tx?: Record<string, unknown>
  receipt?: Record<string, unknown>
  log?: { address: Hex; topics: Hex[]; data: Hex; logIndex: Hex; [field: string]: unknown }
  /** The match decoded with the interest's ABI when it was queued (integers as decimal strings). */
  decoded?: { name: string; args: unknown }
  data?: Record<string, unknown>
}

export type SubmissionStatus = 'pending' | 'included' | 'final' | 'replaced' | 'dropped' | 'failed'

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

/** The `data` of a `submitted-status` item: one status change. */
export type SubmissionStatusChange = {
  status: SubmissionStatus
  /** Null on the first item, which records the submission. */
  previous: SubmissionStatus | null
  reason: 'submitted' | 'resubmitted' | 'mined' | 'finalized' | 'nonce-used' | 'reorg' | 'expired'
  from: Hex
  nonce: number
  outcome?: NonNullable<Submission['outcome']>
  replacedBy?: Hex
}
