import type { Kysely, Transaction } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { DB } from '../../storage/schema.js'
import type { BlockRef } from './ChainListener.js'
import type { FetchedBlock } from './fetchBlocks.js'

type Db = Kysely<DB> | Transaction<DB>

const ref = (row: { number: number; hash: Uint8Array }): BlockRef => ({
  number: Number(row.number),
  hash: bytesToHex(row.hash),
})

/** The highest canonical block, or undefined before the first block is stored. */
export async function getCanonicalHead(db: Db): Promise<BlockRef | undefined> {
  const row = await db
    .selectFrom('blocks')
    .select(['number', 'hash'])
    .where('canonical', '=', true)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row ? ref(row) : undefined
}

/** The lowest canonical block still stored (the floor below which the chain was pruned). */
export async function getCanonicalTail(db: Db): Promise<BlockRef | undefined> {
  const row = await db
    .selectFrom('blocks')
    .select(['number', 'hash'])
    .where('canonical', '=', true)
    .orderBy('number', 'asc')
    .limit(1)
    .executeTakeFirst()
  return row ? ref(row) : undefined
}

/** Canonical hashes by number for `from..to` (inclusive). */
export async function getCanonicalHashes(db: Db, from: number, to: number): Promise<Map<number, Hex>> {
  const rows = await db
    .selectFrom('blocks')
    .select(['number', 'hash'])
    .where('canonical', '=', true)
    .where('number', '>=', from)
    .where('number', '<=', to)
    .execute()
  return new Map(rows.map((row) => [Number(row.number), bytesToHex(row.hash)]))
}

/**
 * The first of `blocks` that is not on the stored canonical chain, or undefined when all are.
 * A block below the stored tail was pruned as final, so it counts as on the chain; a block above
 * the stored head, or with another hash at its height, is a branch the follower has not stored
 * (the node moved on, or is behind on another branch): items read from it could never be
 * withdrawn by a reorg, since only stored blocks are abandoned.
 */
export async function firstOffStoredChain(
  db: Db,
  blocks: readonly BlockRef[],
): Promise<BlockRef | undefined> {
  if (blocks.length === 0) return undefined
  const numbers = blocks.map((block) => block.number)
  const [tail, stored] = await Promise.all([
    getCanonicalTail(db),
    getCanonicalHashes(db, Math.min(...numbers), Math.max(...numbers)),
  ])
  return blocks.find((block) =>
    tail !== undefined && block.number < tail.number ? false : stored.get(block.number) !== block.hash,
  )
}

/**
 * Stores blocks as canonical. A block seen before on an abandoned branch is made canonical again
 * rather than stored twice.
 */
export async function insertCanonicalBlocks(
  trx: Transaction<DB>,
  blocks: readonly FetchedBlock[],
): Promise<void> {
  if (blocks.length === 0) return
  const rows = blocks.map(({ block, receipts, unverified }) => {
    const { transactions, uncles, withdrawals, ...header } = block
    void transactions
    void withdrawals
    return {
      hash: hexToBytes(block.hash),
      number: Number(block.number),
      parent_hash: hexToBytes(block.parentHash),
      canonical: true,
      timestamp: Number(block.timestamp),
      state_root: hexToBytes(block.stateRoot),
      receipts_root: hexToBytes(block.receiptsRoot),
      transactions_root: hexToBytes(block.transactionsRoot),
      logs_bloom: hexToBytes(block.logsBloom),
      header: JSON.stringify({ ...header, uncles }),
      tx_count: block.transactions.length,
      log_count: receipts.reduce((sum, receipt) => sum + receipt.logs.length, 0),
      verified: unverified === undefined,
    }
  })
  await trx
    .insertInto('blocks')
    .values(rows)
    .onConflict((oc) => oc.column('hash').doUpdateSet({ canonical: true }))
    .execute()
}

/** Makes every canonical block above `number` non-canonical and returns them, newest first. */
export async function demoteAbove(trx: Transaction<DB>, number: number): Promise<BlockRef[]> {
  const rows = await trx
    .updateTable('blocks')
    .set({ canonical: false })
    .where('canonical', '=', true)
    .where('number', '>', number)
    .returning(['number', 'hash'])
    .execute()
  return rows.map(ref).sort((a, b) => b.number - a.number)
}

/**
 * Deletes abandoned blocks below `nonCanonicalBelow`, and canonical blocks below
 * `canonicalBelow` (the retention window behind finality). Returns how many rows went.
 */
export async function pruneBlocks(
  db: Db,
  options: { nonCanonicalBelow: number; canonicalBelow: number; limit: number },
): Promise<number> {
  const victims = await db
    .selectFrom('blocks')
    .select('hash')
    .where((eb) =>
      eb.or([
        eb.and([eb('canonical', '=', false), eb('number', '<', options.nonCanonicalBelow)]),
        eb.and([eb('canonical', '=', true), eb('number', '<', options.canonicalBelow)]),
      ]),
    )
    .limit(options.limit)
    .execute()
  if (victims.length === 0) return 0
  const result = await db
    .deleteFrom('blocks')
    .where(
      'hash',
      'in',
      victims.map((victim) => victim.hash),
    )
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
