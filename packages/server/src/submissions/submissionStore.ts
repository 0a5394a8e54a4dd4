import type { ExpressionBuilder, ExpressionWrapper, Kysely, SqlBool, Transaction, Updateable } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { ClientSubmittedTxsTable, DB, SubmittedTxStatus } from '../storage/schema.js'

/** What an inclusion tells: from the receipt, kept with the record (the logs are not). */
export type Outcome = {
  success: boolean
  gasUsed: string
  effectiveGasPrice: string | null
  contractAddress: Hex | null
  txIndex: number
}

/** A record as the tracker and the API read it. */
export type SubmissionRecord = {
  clientId: Hex
  hash: Hex
  clientContractId: number | null
  raw: Hex
  from: Hex
  nonce: number
  status: SubmittedTxStatus
  block: { number: number; hash: Hex } | null
  outcome: Outcome | null
  replacedBy: Hex | null
  submittedAt: Date
  updatedAt: Date
  expiresAt: Date
}

/** A status change: the record after it, and the status before (null: it was just submitted). */
export type Transition = SubmissionRecord & { previous: SubmittedTxStatus | null }

type Row = {
  client_id: Uint8Array
  hash: Uint8Array
  client_contract_id: number | null
  raw: Uint8Array
  sender: Uint8Array
  nonce: number
  status: SubmittedTxStatus
  block_hash: Uint8Array | null
  block_number: number | null
  receipt: unknown
  replaced_by: Uint8Array | null
  submitted_at: Date
  updated_at: Date
  expires_at: Date
}

const COLUMNS = [
  'client_id',
  'hash',
  'client_contract_id',
  'raw',
  'sender',
  'nonce',
  'status',
  'block_hash',
  'block_number',
  'receipt',
  'replaced_by',
  'submitted_at',
  'updated_at',
  'expires_at',
] as const

function toRecord(row: Row): SubmissionRecord {
  return {
    clientId: bytesToHex(row.client_id),
    hash: bytesToHex(row.hash),
    clientContractId: row.client_contract_id === null ? null : Number(row.client_contract_id),
    raw: bytesToHex(row.raw),
    from: bytesToHex(row.sender),
    nonce: Number(row.nonce),
    status: row.status,
    block:
      row.block_hash && row.block_number !== null
        ? { number: Number(row.block_number), hash: bytesToHex(row.block_hash) }
        : null,
    outcome: (row.receipt as Outcome | null) ?? null,
    replacedBy: row.replaced_by ? bytesToHex(row.replaced_by) : null,
    submittedAt: row.submitted_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
  }
}

export async function findSubmission(
  db: Kysely<DB>,
  clientId: Hex,
  hash: Hex,
): Promise<SubmissionRecord | undefined> {
  const row = await db
    .selectFrom('client_submitted_txs')
    .select(COLUMNS)
    .where('client_id', '=', hexToBytes(clientId))
    .where('hash', '=', hexToBytes(hash))
    .executeTakeFirst()
  return row ? toRecord(row) : undefined
}

export async function countPending(db: Kysely<DB>, clientId: Hex): Promise<number> {
  const row = await db
    .selectFrom('client_submitted_txs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('client_id', '=', hexToBytes(clientId))
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/**
 * Records a submission as pending. A record the client already has is left as it is — unless it
 * was dropped: sent again and accepted by the node, it is pending again, with a new expiry.
 * Returns the pending record, or undefined when an existing one was left alone.
 */
export async function recordPending(
  trx: Transaction<DB>,
  input: Pick<
    SubmissionRecord,
    'clientId' | 'hash' | 'clientContractId' | 'raw' | 'from' | 'nonce' | 'expiresAt'
  >,
): Promise<Transition | undefined> {
  const before = await trx
    .selectFrom('client_submitted_txs')
    .select('status')
    .where('client_id', '=', hexToBytes(input.clientId))
    .where('hash', '=', hexToBytes(input.hash))
    .forUpdate()
    .executeTakeFirst()
  if (before && before.status !== 'dropped') return undefined
  const row = await trx
    .insertInto('client_submitted_txs')
    .values({
      client_id: hexToBytes(input.clientId),
      hash: hexToBytes(input.hash),
      client_contract_id: input.clientContractId,
      raw: hexToBytes(input.raw),
      sender: hexToBytes(input.from),
      nonce: input.nonce,
      status: 'pending',
      expires_at: input.expiresAt,
    })
    .onConflict((oc) =>
      oc.columns(['client_id', 'hash']).doUpdateSet({
        status: 'pending',
        expires_at: input.expiresAt,
        updated_at: new Date(),
      }),
    )
    .returning(COLUMNS)
    .executeTakeFirstOrThrow()
  return { ...toRecord(row), previous: before ? before.status : null }
}

type Where = (
  eb: ExpressionBuilder<DB, 'client_submitted_txs'>,
) => ExpressionWrapper<DB, 'client_submitted_txs', SqlBool>

/**
 * Moves every record that `where` selects to the values in `set`, and returns each with the status
 * it had: the selection is locked and read first, in the same statement.
 */
async function transition(
  trx: Transaction<DB>,
  where: Where,
  set: Updateable<ClientSubmittedTxsTable>,
  limit?: number,
): Promise<Transition[]> {
  const rows = await trx
    .with('o', (db) =>
      db
        .selectFrom('client_submitted_txs')
        .select(['client_id', 'hash', 'status'])
        .where(where)
        .$if(limit !== undefined, (qb) => qb.limit(limit!))
        .forUpdate(),
    )
    .updateTable('client_submitted_txs as t')
    .from('o')
    .set({ ...set, updated_at: new Date() })
    .whereRef('t.client_id', '=', 'o.client_id')
    .whereRef('t.hash', '=', 'o.hash')
    .returning([...COLUMNS.map((column) => `t.${column}` as const), 'o.status as previous'])
    .execute()
  return rows.map((row) => ({ ...toRecord(row), previous: row.previous }))
}

const OPEN: SubmittedTxStatus[] = ['pending', 'dropped']
const bytesOf = (hashes: readonly Hex[]) => hashes.map((hash) => hexToBytes(hash))

/** Mined in a canonical block: included, with its outcome. */
export function markIncluded(
  trx: Transaction<DB>,
  hash: Hex,
  block: { number: number; hash: Hex },
  outcome: Outcome,
): Promise<Transition[]> {
  return transition(trx, (eb) => eb.and([eb('hash', '=', hexToBytes(hash)), eb('status', 'in', OPEN)]), {
    status: 'included',
    block_hash: hexToBytes(block.hash),
    block_number: block.number,
    receipt: JSON.stringify(outcome),
    replaced_by: null,
  })
}

/** Another transaction of the same sender and nonce was mined: replaced, by it, in its block. */
export function markReplaced(
  trx: Transaction<DB>,
  hashes: readonly Hex[],
  by: { hash: Hex; block: { number: number; hash: Hex } },
): Promise<Transition[]> {
  return transition(trx, (eb) => eb.and([eb('hash', 'in', bytesOf(hashes)), eb('status', 'in', OPEN)]), {
    status: 'replaced',
    block_hash: hexToBytes(by.block.hash),
    block_number: by.block.number,
    receipt: null,
    replaced_by: hexToBytes(by.hash),
  })
}

/** The blocks that included (or replaced) these records are abandoned: pending again. */
export function markReorged(
  trx: Transaction<DB>,
  blockHashes: readonly Hex[],
  expiresAt: Date,
): Promise<Transition[]> {
  return transition(
    trx,
    (eb) =>
      eb.and([
        eb('block_hash', 'in', bytesOf(blockHashes)),
        eb('status', 'in', ['included', 'final', 'replaced']),
      ]),
    {
      status: 'pending',
      block_hash: null,
      block_number: null,
      receipt: null,
      replaced_by: null,
      expires_at: expiresAt,
    },
  )
}

/** Included at or below the finalized block: final (at most `limit` per call). */
export function markFinal(trx: Transaction<DB>, finalized: number, limit: number): Promise<Transition[]> {
  return transition(
    trx,
    (eb) => eb.and([eb('status', '=', 'included'), eb('block_number', '<=', finalized)]),
    { status: 'final' },
    limit,
  )
}

/** Pending past their expiry, and still not seen in a block: dropped. */
export function markDropped(trx: Transaction<DB>, hashes: readonly Hex[], now: Date): Promise<Transition[]> {
  return transition(
    trx,
    (eb) =>
      eb.and([eb('hash', 'in', bytesOf(hashes)), eb('status', '=', 'pending'), eb('expires_at', '<=', now)]),
    { status: 'dropped' },
  )
}

/** What the tracker watches after a start: the pending records, and the dropped ones still in their grace period. */
export async function loadWatched(
  db: Kysely<DB>,
  droppedSince: Date,
): Promise<{ hash: Hex; from: Hex; nonce: number; status: SubmittedTxStatus; expiresAt: Date }[]> {
  const rows = await db
    .selectFrom('client_submitted_txs')
    .select(['hash', 'sender', 'nonce', 'status', 'expires_at'])
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        eb.and([eb('status', '=', 'dropped'), eb('expires_at', '>', droppedSince)]),
      ]),
    )
    .execute()
  return rows.map((row) => ({
    hash: bytesToHex(row.hash),
    from: bytesToHex(row.sender),
    nonce: Number(row.nonce),
    status: row.status,
    expiresAt: row.expires_at,
  }))
}

/** The raw transactions of these hashes (for re-sending), one per hash. */
export async function rawOf(db: Kysely<DB>, hashes: readonly Hex[]): Promise<Map<Hex, Hex>> {
  if (hashes.length === 0) return new Map()
  const rows = await db
    .selectFrom('client_submitted_txs')
    .select(['hash', 'raw'])
    .distinctOn('hash')
    .where('hash', 'in', bytesOf(hashes))
    .execute()
  return new Map(rows.map((row) => [bytesToHex(row.hash), bytesToHex(row.raw)]))
}
