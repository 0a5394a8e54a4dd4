import { type Static, Type } from '@sinclair/typebox'
import { BlockRef, Hex, Nullable } from './common.js'
import { type FilterCode, SubmissionOutcome, SubmissionStatus } from './deliveryItem.js'

/** Contract state to watch: an account field, a storage slot (`[slot]`) or a view call (`[callData]`). */
export type WatchKind = 'balance' | 'nonce' | 'codeHash' | 'storageRoot' | 'slot' | 'call'
/** What an account interest follows of its address. */
export type AccountActivityKind = 'native' | 'tokens' | 'approvals' | 'userOps' | 'internal'

// Codes and kinds are plain strings on the wire, so that the server answers one it does not know
// with its own code (INVALID_FILTER, INVALID_WATCH) rather than a schema error; the types name them.
const FilterCodeText = Type.Unsafe<FilterCode>(Type.String())
const WatchKindText = Type.Unsafe<WatchKind>(Type.String())
const ActivityText = Type.Unsafe<AccountActivityKind>(Type.String())

/** A back-fill of history; a `failed` one gave up after bounded retries and must be asked for again. */
export const BackfillStatus = Type.Object(
  {
    status: Type.Unsafe<'pending' | 'running' | 'done' | 'failed'>(
      Type.String({ description: 'pending, running, done or failed (after bounded retries)' }),
    ),
    fromBlock: Type.Integer(),
    toBlock: Type.Integer({ description: 'The head when it was asked for; it runs on to live matching' }),
    nextBlock: Type.Integer(),
    error: Nullable(Type.String()),
  },
  { description: 'The back-fill of history its startBlock asked for, if it asked for one' },
)

/** An interest in a contract (deployed or not), with its filters and state watches. */
export const Interest = Type.Object(
  {
    address: Hex,
    startBlock: Nullable(Type.Integer()),
    abi: Nullable(Type.Array(Type.Unknown())),
    deployed: Type.Boolean(),
    filters: Type.Array(
      Type.Object({ id: Type.Integer(), code: FilterCodeText, args: Type.Array(Type.Unknown()) }),
    ),
    watches: Type.Array(
      Type.Object({ id: Type.Integer(), kind: WatchKindText, args: Type.Array(Type.Unknown()) }),
    ),
    backfill: Nullable(BackfillStatus),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Interest' },
)

/** An interest in everything that touches one of the wallet's own addresses, in any contract. */
export const Account = Type.Object(
  {
    address: Hex,
    activity: Type.Array(ActivityText),
    backfill: Type.Optional(
      Nullable(BackfillStatus, {
        description: "The account's back-fill of history, if its startBlock asked for one (in listings)",
      }),
    ),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Account' },
)

/** A transaction the client submitted, as the backend tracks it. */
export const Submission = Type.Object(
  {
    hash: Hex,
    status: SubmissionStatus,
    from: Hex,
    nonce: Type.Integer(),
    interest: Nullable(Hex, {
      description: 'The interest the transaction is for (null for a creation of an address not watched)',
    }),
    block: Nullable(BlockRef, {
      description: 'Included/final: the block that has it. Replaced: the block of the replacement.',
    }),
    confirmations: Nullable(Type.Integer()),
    outcome: Nullable(SubmissionOutcome),
    replacedBy: Nullable(Hex),
    submittedAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({
      format: 'date-time',
      description: 'When a transaction still pending is reported dropped',
    }),
  },
  { $id: 'Submission' },
)

export type BackfillStatus = Static<typeof BackfillStatus>
export type Interest = Static<typeof Interest>
export type Account = Static<typeof Account>
export type Submission = Static<typeof Submission>
