import { type Kysely, sql } from 'kysely'
import { pruneStates } from '../../contract-state/contractStateStore.js'
import { dropFinalAcknowledged } from '../../delivery/deliveryStore.js'
import type { DB } from '../../storage/schema.js'

export type GarbageCollected = {
  acknowledgedItems: number
  verifiedTxs: number
  contractStates: number
  contracts: number
  sessions: number
  challenges: number
}

async function deleted(db: Kysely<DB>, statement: ReturnType<typeof sql>): Promise<number> {
  const result = await sql<{
    n: number
  }>`with gone as (${statement} returning 1) select count(*)::int as n from gone`.execute(db)
  return result.rows[0]?.n ?? 0
}

/**
 * Deletes, in bounded batches of `limit` rows per kind, what nobody refers to any more: acknowledged
 * items of final blocks, verified transactions of final blocks no queued item refers to, contract
 * rows no interest refers to (the trigger of migration 0001 keeps that true; this catches rows left
 * by older versions) and the stored values of those contracts, expired sessions and sign-in
 * challenges. Blocks are pruned by the follower (--retain-finalized-blocks).
 */
export async function collectGarbage(
  db: Kysely<DB>,
  options: { finalized: number | undefined; limit: number; now: Date },
): Promise<GarbageCollected> {
  const { finalized, limit, now } = options
  const final = finalized ?? -1
  return {
    acknowledgedItems: final >= 0 ? await dropFinalAcknowledged(db, final, limit) : 0,
    verifiedTxs:
      final >= 0
        ? await deleted(
            db,
            sql`delete from verified_txs where ctid in (
              select v.ctid from verified_txs v
              where v.block_number <= ${final}
                and not exists (
                  select 1 from client_deliveries d where d.block_hash = v.block_hash and d.tx_index = v.tx_index)
              limit ${limit})`,
          )
        : 0,
    contracts: await deleted(
      db,
      sql`delete from deployed_contracts where address in (
        select d.address from deployed_contracts d
        where not exists (select 1 from client_contracts c where c.address = d.address)
        limit ${limit})`,
    ),
    // After the contract rows: values of contracts nobody is interested in go with them.
    contractStates: await pruneStates(db, final, limit),
    sessions: await deleted(
      db,
      sql`delete from sessions where token_hash in (
        select token_hash from sessions where expires_at < ${now} limit ${limit})`,
    ),
    challenges: await deleted(
      db,
      sql`delete from auth_challenges where nonce in (
        select nonce from auth_challenges where expires_at < ${now} limit ${limit})`,
    ),
  }
}
