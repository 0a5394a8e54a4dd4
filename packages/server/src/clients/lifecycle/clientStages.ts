import type { Kysely } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { Runtime } from '../../api/AppContext.js'
import type { BlockRef } from '../../chain/follower/ChainListener.js'
import { loadWatchedInterests } from '../../contract-state/WatchIndex.js'
import type { StoredInterest } from '../../filters/FilterIndex.js'
import type { DB } from '../../storage/schema.js'

/** Where a client's live matching lives: the database and the in-memory indexes of filters and watches. */
export type ClientIndexes = {
  db: Runtime['db']
  filters: Pick<Runtime['filters'], 'removeClient'>
  contractState: { index: Pick<Runtime['contractState']['index'], 'removeClient'> }
  /** Account interests: gone with a pruned or deleted client (a dormant one keeps them, unqueued). */
  accounts?: Pick<Runtime['accounts'], 'removeClient'>
}

/**
 * Stage 1 of the abandoned-client policy: the client stops being matched and queued for; its
 * identity, interests, filters and wallet state stay. Returns false if it was not active.
 */
export async function makeDormant(
  { db, filters, contractState }: ClientIndexes,
  clientId: Hex,
  head: BlockRef | undefined,
  at: Date = new Date(),
): Promise<boolean> {
  const row = await db
    .updateTable('clients')
    .set({ stage: 'dormant', stage_changed_at: at, dormant_from_block: (head?.number ?? -1) + 1 })
    .where('id', '=', hexToBytes(clientId))
    .where('stage', '=', 'active')
    .returning('id')
    .executeTakeFirst()
  if (row) {
    filters.removeClient(clientId)
    contractState.index.removeClient(clientId)
  }
  return row !== undefined
}

/**
 * A dormant (or pruned) client is back: active again, its filters live again, and a `gap` item
 * names the blocks it missed, which it can back-fill (an interest with a startBlock) if it wants
 * them. A pruned client has no interests left; its gap tells it from where to re-register them.
 */
export async function wakeClient(
  { db, filters, delivery, contractState }: Pick<Runtime, 'db' | 'filters' | 'delivery' | 'contractState'>,
  clientId: Hex,
  head: BlockRef | undefined,
): Promise<{ fromBlock: number; toBlock: number } | undefined> {
  const id = hexToBytes(clientId)
  const gap = await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('clients')
      .select('dormant_from_block')
      .where('id', '=', id)
      .where('stage', 'in', ['dormant', 'pruned'])
      .forUpdate()
      .executeTakeFirst()
    if (!row) return undefined
    await trx
      .updateTable('clients')
      .set({ stage: 'active', stage_changed_at: new Date(), dormant_from_block: null })
      .where('id', '=', id)
      .execute()
    const range = { fromBlock: row.dormant_from_block ?? 0, toBlock: head?.number ?? 0 }
    await delivery.enqueueNotice(trx, clientId, 'gap', range)
    return range
  })
  if (!gap) return undefined
  for (const interest of await interestsOf(db, id)) filters.setInterest(interest)
  // Its watches come back with their current values: what changed while it was away is not replayed.
  for (const interest of await loadWatchedInterests(db, id)) contractState.setInterest(interest)
  delivery.committed()
  return gap
}

async function interestsOf(db: Kysely<DB>, clientId: Uint8Array): Promise<StoredInterest[]> {
  const rows = await db
    .selectFrom('client_tx_filters as f')
    .innerJoin('client_contracts as c', 'c.id', 'f.client_contract_id')
    .select(['f.id', 'f.code', 'f.args', 'c.id as interest', 'c.address'])
    .where('f.client_id', '=', clientId)
    .orderBy('f.id')
    .execute()
  const interests = new Map<number, StoredInterest>()
  for (const row of rows) {
    const interest = interests.get(row.interest) ?? {
      clientContractId: row.interest,
      clientId: bytesToHex(clientId),
      address: bytesToHex(row.address),
      filters: [],
    }
    interest.filters.push({ id: row.id, code: row.code, args: row.args })
    interests.set(row.interest, interest)
  }
  return [...interests.values()]
}
