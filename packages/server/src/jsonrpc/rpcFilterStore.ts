import { randomBytes } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { DB, RpcFilterKind } from '../storage/schema.js'
import { filterNotFound } from './JsonRpcError.js'

/** A filter or subscription as its owner's calls see it. */
export type RpcFilter = {
  id: Hex
  kind: RpcFilterKind
  subscription: boolean
  criteria: Record<string, unknown>
}

/** One change a filter reads: a log (perhaps flagged removed), a block hash, or a head. */
export type RpcFilterChange = { seq: number; payload: unknown }

const FILTER_ID = /^0x[0-9a-fA-F]{32}$/

/**
 * Installs a filter. Its first changes are those of the first chain transaction that commits after
 * it: creation waits on the row every chain transaction updates first (`leadership`), so a batch
 * either committed before the filter (its blocks are not the filter's) or sees the filter when
 * it matches (READ COMMITTED reads what committed before each statement).
 */
export async function createRpcFilter(
  db: Kysely<DB>,
  clientId: Uint8Array,
  filter: Omit<RpcFilter, 'id'>,
): Promise<Hex> {
  const id = randomBytes(16)
  await db.transaction().execute(async (trx) => {
    await sql`select 1 from leadership where id = 1 for share`.execute(trx)
    await trx
      .insertInto('rpc_filters')
      .values({
        id,
        client_id: clientId,
        kind: filter.kind,
        subscription: filter.subscription,
        criteria: JSON.stringify(filter.criteria),
      })
      .execute()
  })
  return bytesToHex(id)
}

/** The owner's live filter `id` (idle ones have expired), or "filter not found". */
export async function findRpcFilter(
  db: Kysely<DB>,
  clientId: Uint8Array,
  id: unknown,
  idleMs: number,
): Promise<RpcFilter> {
  if (typeof id !== 'string' || !FILTER_ID.test(id)) throw filterNotFound()
  const row = await db
    .selectFrom('rpc_filters')
    .select(['id', 'kind', 'subscription', 'criteria'])
    .where('id', '=', hexToBytes(id as Hex))
    .where('client_id', '=', clientId)
    .where('last_used_at', '>', new Date(Date.now() - idleMs))
    .executeTakeFirst()
  if (!row) throw filterNotFound()
  return { id: bytesToHex(row.id), kind: row.kind, subscription: row.subscription, criteria: row.criteria }
}

/**
 * The changes after what the filter has read, oldest first, marked read in the same transaction.
 * Read removal notices go at once: they belong to no block, so nothing can take them back.
 */
export async function takeRpcFilterChanges(
  db: Kysely<DB>,
  filterId: Hex,
  limit: number,
): Promise<RpcFilterChange[]> {
  const id = hexToBytes(filterId)
  return db.transaction().execute(async (trx) => {
    const filter = await trx
      .selectFrom('rpc_filters')
      .select('read_seq')
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst()
    if (!filter) throw filterNotFound()
    const rows = await trx
      .selectFrom('rpc_filter_changes')
      .select(['seq', 'payload'])
      .where('filter_id', '=', id)
      .where('seq', '>', filter.read_seq)
      .orderBy('seq')
      .limit(limit)
      .execute()
    const last = rows.at(-1)?.seq ?? filter.read_seq
    await trx
      .updateTable('rpc_filters')
      .set({ read_seq: last, last_used_at: new Date() })
      .where('id', '=', id)
      .execute()
    if (rows.length > 0)
      await trx
        .deleteFrom('rpc_filter_changes')
        .where('filter_id', '=', id)
        .where('seq', '<=', last)
        .where('block_hash', 'is', null)
        .execute()
    return rows.map((row) => ({ seq: Number(row.seq), payload: row.payload }))
  })
}

/** Removes the owner's filter; false when it had none by that id. */
export async function deleteRpcFilter(db: Kysely<DB>, clientId: Uint8Array, id: unknown): Promise<boolean> {
  if (typeof id !== 'string' || !FILTER_ID.test(id)) return false
  const result = await db
    .deleteFrom('rpc_filters')
    .where('id', '=', hexToBytes(id as Hex))
    .where('client_id', '=', clientId)
    .executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** Marks filters as in use (subscriptions held by a connection are, while it lasts). */
export async function touchRpcFilters(db: Kysely<DB>, ids: readonly Hex[]): Promise<void> {
  if (ids.length === 0) return
  await db
    .updateTable('rpc_filters')
    .set({ last_used_at: new Date() })
    .where(
      'id',
      'in',
      ids.map((id) => hexToBytes(id)),
    )
    .execute()
}

/** How many filters a client has; bounded so that one client cannot make matching costly. */
export async function countRpcFilters(db: Kysely<DB>, clientId: Uint8Array): Promise<number> {
  const row = await db
    .selectFrom('rpc_filters')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('client_id', '=', clientId)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
