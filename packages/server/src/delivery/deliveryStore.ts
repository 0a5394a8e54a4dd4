import { type Kysely, sql } from 'kysely'
import { type Abi, bytesToHex, decodeEventLog, decodeFunctionData, type Hex } from 'viem'
import type { BlockRef } from '../chain/follower/ChainListener.js'
import type { RpcLog, RpcReceipt, RpcTransaction } from '../chain/types.js'
import { BaseError } from '../errors/BaseError.js'
import type { DB, DeliveryKind } from '../storage/schema.js'

/** One queued item as a client receives it. */
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
  tx?: RpcTransaction
  receipt?: RpcReceipt
  log?: RpcLog
  /** The match decoded with the interest's ABI, when it has one that fits. */
  decoded?: { name: string; args: unknown }
  data?: Record<string, unknown>
}

/** JSON has no bigint: decoded integers travel as decimal strings. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(jsonSafe)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonSafe(item)]))
  }
  return value
}

function decode(abi: unknown, item: DeliveryItem): DeliveryItem['decoded'] {
  if (!Array.isArray(abi) || abi.length === 0) return undefined
  try {
    if (item.log) {
      const event = decodeEventLog({
        abi: abi as Abi,
        data: item.log.data,
        topics: item.log.topics as [Hex, ...Hex[]],
      })
      return { name: event.eventName ?? '', args: jsonSafe(event.args) }
    }
    if (item.tx && typeof item.tx.input === 'string' && item.tx.input.length >= 10) {
      const call = decodeFunctionData({ abi: abi as Abi, data: item.tx.input as Hex })
      return { name: call.functionName, args: jsonSafe(call.args ?? []) }
    }
  } catch {
    // Not in the ABI the client gave: the raw data is still there.
  }
  return undefined
}

export class CursorOutOfRangeError extends BaseError {
  override readonly name = 'CursorOutOfRangeError'
  constructor(cursor: number, last: number) {
    super('CURSOR_OUT_OF_RANGE', `cursor ${cursor} is beyond the last queued item (${last})`, {
      status: 400,
      details: { cursor, last },
    })
  }
}

export type ChainPosition = { head: BlockRef | undefined; finalized: BlockRef | undefined }

/**
 * The client's items after `after` (and after its acknowledged cursor: nothing acknowledged is
 * sent again), oldest first, marked as delivered. Transactions, receipts and logs come from the
 * verified transactions they refer to, stored once however many clients matched them.
 */
export async function readDeliveries(
  db: Kysely<DB>,
  clientId: Uint8Array,
  options: { after: number; limit: number; chain: ChainPosition },
): Promise<{ items: DeliveryItem[]; lastCursor: number }> {
  const client = await db
    .selectFrom('clients')
    .select(['acked_cursor', 'next_cursor'])
    .where('id', '=', clientId)
    .executeTakeFirstOrThrow()
  const from = Math.max(options.after, client.acked_cursor)
  const rows = await db
    .selectFrom('client_deliveries as d')
    .leftJoin('client_contracts as i', 'i.id', 'd.client_contract_id')
    .leftJoin('verified_txs as v', (join) =>
      join.onRef('v.block_hash', '=', 'd.block_hash').onRef('v.tx_index', '=', 'd.tx_index'),
    )
    .select([
      'd.cursor',
      'd.kind',
      'd.payload',
      'd.block_number',
      'd.block_hash',
      'd.tx_hash',
      'd.tx_index',
      'd.log_index',
      'd.delivered_at',
      'i.address',
      'i.abi',
      'v.tx',
      'v.receipt',
    ])
    .where('d.client_id', '=', clientId)
    .where('d.cursor', '>', from)
    .orderBy('d.cursor')
    .limit(options.limit)
    .execute()
  const fresh = rows.filter((row) => row.delivered_at === null).map((row) => row.cursor)
  if (fresh.length > 0) {
    await db
      .updateTable('client_deliveries')
      .set({ delivered_at: new Date() })
      .where('client_id', '=', clientId)
      .where('cursor', 'in', fresh)
      .execute()
  }
  const head = options.chain.head?.number
  const finalized = options.chain.finalized?.number ?? -1
  const items = rows.map((row): DeliveryItem => {
    const payload = row.payload as Record<string, unknown>
    // Back-filled items carry their transaction and receipt; live ones refer to verified_txs.
    const {
      filterIds,
      tx: ownTx,
      receipt: ownReceipt,
      ...data
    } = payload as {
      filterIds?: number[]
      tx?: RpcTransaction
      receipt?: RpcReceipt
    }
    const receipt = (row.receipt ?? ownReceipt) as RpcReceipt | undefined
    const tx = (row.tx ?? ownTx) as RpcTransaction | undefined
    const item: DeliveryItem = {
      cursor: row.cursor,
      kind: row.kind,
      interest: row.address ? bytesToHex(row.address) : null,
      filterIds: filterIds ?? [],
      block:
        row.block_number !== null && row.block_hash
          ? { number: row.block_number, hash: bytesToHex(row.block_hash) }
          : null,
      txHash: row.tx_hash ? bytesToHex(row.tx_hash) : null,
      txIndex: row.tx_index,
      logIndex: row.log_index,
      confirmations:
        row.block_number !== null && head !== undefined ? Math.max(0, head - row.block_number + 1) : null,
      final: row.block_number !== null && row.block_number <= finalized,
      ...(Object.keys(data).length > 0 ? { data } : {}),
    }
    if (row.kind === 'tx' && tx) {
      item.tx = tx
      if (receipt) item.receipt = receipt
    }
    if (row.kind === 'log' && receipt) {
      const log = receipt.logs.find((l) => Number(l.logIndex) === row.log_index)
      if (log) item.log = log
    }
    const decoded = decode(row.abi, item)
    if (decoded) item.decoded = decoded
    return item
  })
  return { items, lastCursor: client.next_cursor - 1 }
}

/**
 * Acknowledges everything up to `cursor`. Items of final blocks are deleted; items of blocks a
 * reorg could still remove are kept, hidden, so that the client can be told if that happens.
 */
export async function acknowledge(
  db: Kysely<DB>,
  clientId: Uint8Array,
  cursor: number,
  finalized: number,
): Promise<{ acked: number }> {
  return db.transaction().execute(async (trx) => {
    const client = await trx
      .selectFrom('clients')
      .select(['acked_cursor', 'next_cursor'])
      .where('id', '=', clientId)
      .forUpdate()
      .executeTakeFirstOrThrow()
    if (cursor > client.next_cursor - 1) throw new CursorOutOfRangeError(cursor, client.next_cursor - 1)
    const acked = Math.max(client.acked_cursor, cursor)
    if (acked !== client.acked_cursor) {
      await trx.updateTable('clients').set({ acked_cursor: acked }).where('id', '=', clientId).execute()
    }
    await trx
      .deleteFrom('client_deliveries')
      .where('client_id', '=', clientId)
      .where('cursor', '<=', acked)
      .where((eb) => eb.or([eb('block_number', 'is', null), eb('block_number', '<=', finalized)]))
      .execute()
    return { acked }
  })
}

/** Deletes acknowledged items whose blocks have become final since (bounded per call). */
export async function dropFinalAcknowledged(
  db: Kysely<DB>,
  finalized: number,
  limit = 10_000,
): Promise<number> {
  const result = await sql<{ n: number }>`
    with gone as (
      delete from client_deliveries d using clients c
      where c.id = d.client_id and d.cursor <= c.acked_cursor and d.block_number <= ${finalized}
        and d.ctid in (select ctid from client_deliveries where block_number <= ${finalized} limit ${limit})
      returning 1
    ) select count(*)::int as n from gone`.execute(db)
  return result.rows[0]?.n ?? 0
}
