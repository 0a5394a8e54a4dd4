import { type Kysely, sql, type Transaction } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef } from '../../chain/follower/ChainListener.js'
import type { DB } from '../../storage/schema.js'

/** Who follows the chain, and where it was at its last commit. */
export type LeadershipRecord = {
  term: number
  holder: string | undefined
  url: string | undefined
  secret: string | undefined
  head: BlockRef | undefined
  safe: number | undefined
  finalized: number | undefined
}

/**
 * Starts a new term for `holder`. Bumping the term waits for a transaction of the previous leader
 * that holds the row, and makes every later one of its fail (see `recordChainPosition`).
 */
export async function takeTerm(
  db: Kysely<DB>,
  holder: { holder: string; url: string; secret: string },
): Promise<number> {
  const row = await db
    .updateTable('leadership')
    .set({ term: sql`term + 1`, ...holder, elected_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', 1)
    .returning('term')
    .executeTakeFirstOrThrow()
  return row.term
}

/**
 * Records the chain position inside the follower's transaction (what is given of it), if `term`
 * is still the current one; returns false when it is not, and the caller must roll back.
 */
export async function recordChainPosition(
  trx: Transaction<DB>,
  term: number,
  position: { head?: BlockRef; safe?: number; finalized?: number },
): Promise<boolean> {
  const result = await trx
    .updateTable('leadership')
    .set({
      ...(position.head
        ? { head_number: position.head.number, head_hash: hexToBytes(position.head.hash) }
        : {}),
      ...(position.safe !== undefined ? { safe_number: position.safe } : {}),
      ...(position.finalized !== undefined ? { finalized_number: position.finalized } : {}),
      updated_at: sql`now()`,
    })
    .where('id', '=', 1)
    .where('term', '=', term)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

export async function readLeadership(db: Kysely<DB>): Promise<LeadershipRecord> {
  const row = await db.selectFrom('leadership').selectAll().where('id', '=', 1).executeTakeFirstOrThrow()
  return {
    term: row.term,
    holder: row.holder ?? undefined,
    url: row.url ?? undefined,
    secret: row.secret ?? undefined,
    head:
      row.head_number !== null && row.head_hash
        ? { number: row.head_number, hash: bytesToHex(row.head_hash) as Hex }
        : undefined,
    safe: row.safe_number ?? undefined,
    finalized: row.finalized_number ?? undefined,
  }
}
