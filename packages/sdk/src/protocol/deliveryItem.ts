import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox'
import { BlockRef, Cursor, Hex, Nullable } from './common.js'

// Payloads keep fields this schema does not name (additionalProperties): the server serializes
// with these schemas, and a field added later must reach clients that already know it.
const open = <T extends TProperties>(properties: T, description?: string): TObject<T> =>
  Type.Object(properties, { additionalProperties: true, ...(description ? { description } : {}) })

const Decoded = Type.Object(
  { name: Type.String(), args: Type.Unknown() },
  { description: 'Decoded with the interest ABI when the item was queued (integers as decimal strings)' },
)
const RpcObject = Type.Record(Type.String(), Type.Unknown(), { description: 'As the node answered it' })
const RpcLog = open(
  { address: Hex, topics: Type.Array(Hex), data: Hex, logIndex: Hex },
  'As the node answered it',
)

/** How a filter selects a contract's transactions and logs (its `args` depend on the code). */
export type FilterCode = 'all' | 'logs' | 'calls' | 'transfers' | 'value'
export const FilterCode = Type.Union(
  ['all', 'logs', 'calls', 'transfers', 'value'].map((c) => Type.Literal(c)),
)
const Watch = Type.Object({
  id: Type.Integer(),
  kind: Type.Union(
    ['balance', 'nonce', 'codeHash', 'storageRoot', 'slot', 'call'].map((kind) => Type.Literal(kind)),
  ),
  args: Type.Array(Type.Unknown()),
})

/** What a `state` item carries in `data`. */
export const StateChange = open({
  watch: Watch,
  value: Type.Unknown({
    description: 'Hex quantity (account fields), 32-byte word (slot), or {result} / {reverted, error} (call)',
  }),
  previous: Nullable(Type.Object({ value: Type.Unknown(), blockNumber: Type.Integer() })),
  reason: Type.Union(['initial', 'changed', 'deployed', 'reorg'].map((r) => Type.Literal(r))),
  decoded: Type.Optional(Type.Object({ name: Type.String(), result: Type.Unknown() })),
})

export const SubmissionStatus = Type.Union(
  ['pending', 'included', 'final', 'replaced', 'dropped', 'failed'].map((status) => Type.Literal(status)),
)
export const SubmissionOutcome = Type.Object({
  success: Type.Boolean(),
  gasUsed: Type.String({ description: 'Decimal' }),
  effectiveGasPrice: Nullable(Type.String()),
  contractAddress: Nullable(Hex),
  txIndex: Type.Integer(),
})

/** The `data` of a `submitted-status` item: one status change. */
export const SubmissionStatusChange = open({
  status: SubmissionStatus,
  previous: Nullable(SubmissionStatus),
  reason: Type.Union(
    ['submitted', 'resubmitted', 'mined', 'finalized', 'nonce-used', 'reorg', 'expired'].map((r) =>
      Type.Literal(r),
    ),
  ),
  from: Hex,
  nonce: Type.Integer(),
  outcome: Type.Optional(SubmissionOutcome),
  replacedBy: Type.Optional(Hex),
})

export const Direction = Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Literal('self')])
export const TokenInfo = Type.Object({
  name: Nullable(Type.String()),
  symbol: Nullable(Type.String()),
  decimals: Nullable(Type.Integer()),
})
const Decimal = Type.String({ description: 'Decimal' })

const movements = {
  native: {
    type: Type.Literal('native'),
    direction: Direction,
    counterparty: Nullable(Hex),
    value: Decimal,
    success: Type.Boolean(),
  },
  token: {
    type: Type.Literal('token'),
    standard: Type.Union([Type.Literal('erc20'), Type.Literal('erc721'), Type.Literal('erc1155')]),
    token: Hex,
    direction: Direction,
    counterparty: Hex,
    operator: Type.Optional(Hex),
    amount: Type.Optional(Decimal),
    tokenId: Type.Optional(Decimal),
    tokenIds: Type.Optional(Type.Array(Decimal, { description: 'ERC-1155 batch, pairwise with amounts' })),
    amounts: Type.Optional(Type.Array(Decimal)),
    tokenInfo: Type.Optional(TokenInfo),
  },
  approval: {
    type: Type.Literal('approval'),
    standard: Type.Union([Type.Literal('erc20'), Type.Literal('erc721'), Type.Literal('approvalForAll')]),
    token: Hex,
    spender: Hex,
    amount: Type.Optional(Decimal),
    tokenId: Type.Optional(Decimal),
    approved: Type.Optional(Type.Boolean()),
    tokenInfo: Type.Optional(TokenInfo),
  },
  // Ether moved by a call inside a transaction, read from the node's traces.
  internal: {
    type: Type.Literal('internal'),
    direction: Direction,
    counterparty: Hex,
    value: Decimal,
    traceAddress: Type.Array(Type.Integer(), {
      description: "Where the call sits in the transaction's call tree",
    }),
  },
  userOp: {
    type: Type.Literal('userOp'),
    entryPoint: Hex,
    userOpHash: Hex,
    paymaster: Hex,
    nonce: Decimal,
    success: Type.Boolean(),
    actualGasCost: Decimal,
    actualGasUsed: Decimal,
  },
}

/** What moved in an `account` item (amounts, token ids and values as decimal strings). */
export const AccountMovement = Type.Union([
  open(movements.native),
  open(movements.token),
  open(movements.approval),
  open(movements.internal),
  open(movements.userOp),
])

/** The `data` of an `account` item: the account it is for and what moved. */
const account = {
  account: Hex,
  backfill: Type.Optional(Type.Boolean({ description: 'Queued by a back-fill of history, not live' })),
}
export const AccountActivity = Type.Union([
  open({ ...account, ...movements.native }),
  open({ ...account, ...movements.token }),
  open({ ...account, ...movements.approval }),
  open({ ...account, ...movements.internal }),
  open({ ...account, ...movements.userOp }),
])

/** What every item has, whatever its kind. */
const common = {
  cursor: Cursor,
  interest: Nullable(Hex),
  filterIds: Type.Array(Type.Integer()),
  block: Nullable(BlockRef),
  txHash: Nullable(Hex),
  txIndex: Nullable(Type.Integer()),
  logIndex: Nullable(Type.Integer()),
  confirmations: Nullable(Type.Integer()),
  final: Type.Boolean(),
}
const itemOf = <K extends string, T extends TProperties>(kind: K, properties: T, description: string) =>
  Type.Object({ kind: Type.Literal(kind), ...common, ...properties }, { description })

/** One item of a client's queue: what it holds depends on its `kind`. */
export const DeliveryItem = Type.Union(
  [
    itemOf(
      'tx',
      {
        tx: Type.Optional(RpcObject),
        receipt: Type.Optional(RpcObject),
        decoded: Type.Optional(Decoded),
        data: Type.Optional(open({})),
      },
      'A transaction that matched a filter',
    ),
    itemOf(
      'log',
      { log: Type.Optional(RpcLog), decoded: Type.Optional(Decoded), data: Type.Optional(open({})) },
      'A log that matched a filter',
    ),
    itemOf('state', { data: StateChange }, 'A watched value changed'),
    itemOf(
      'deployed',
      { data: open({ address: Hex, detectedBy: Type.String() }) },
      'Code appeared at the address of the interest',
    ),
    itemOf('submitted-status', { data: SubmissionStatusChange }, "A submitted transaction's status changed"),
    itemOf(
      'removed',
      {
        data: open({
          removedCursor: Cursor,
          removedKind: Type.String(),
          removedBlock: Type.Object({ number: Nullable(Type.Integer()), hash: Nullable(Hex) }),
        }),
      },
      'A reorg removed an item the client had already received or acknowledged',
    ),
    itemOf(
      'gap',
      { data: open({ fromBlock: Type.Integer(), toBlock: Type.Integer() }) },
      'Blocks a dormant client was not matched for',
    ),
    itemOf('account', { data: AccountActivity }, 'Activity of an account interest'),
  ],
  { $id: 'DeliveryItem', title: 'DeliveryItem' },
)
export type DeliveryItem = Static<typeof DeliveryItem>
export type DeliveryKind = DeliveryItem['kind']
export type StateChange = Static<typeof StateChange>
export type SubmissionStatus = Static<typeof SubmissionStatus>
export type SubmissionStatusChange = Static<typeof SubmissionStatusChange>
export type AccountMovement = Static<typeof AccountMovement>
export type AccountActivity = Static<typeof AccountActivity>
export type TokenInfo = Static<typeof TokenInfo>
export type Direction = Static<typeof Direction>
/** The items of one kind: `DeliveryItemOf<'log'>` has a `log`. */
export type DeliveryItemOf<K extends DeliveryKind> = Extract<DeliveryItem, { kind: K }>
