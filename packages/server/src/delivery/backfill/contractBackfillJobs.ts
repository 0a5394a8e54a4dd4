import type { Kysely } from 'kysely'
import type { DB } from '../../storage/schema.js'

/**
 * Replaces the back-fill of one contract interest: its earlier job, finished or not, goes; a new
 * one over `range` (if given) is stored pending, and its id returned for the runner.
 */
export async function replaceContractBackfill(
  db: Kysely<DB>,
  clientContractId: number,
  range: { fromBlock: number; toBlock: number } | undefined,
): Promise<number | undefined> {
  await db.deleteFrom('backfill_jobs').where('client_contract_id', '=', clientContractId).execute()
  if (!range) return undefined
  const job = await db
    .insertInto('backfill_jobs')
    .values({
      client_contract_id: clientContractId,
      from_block: range.fromBlock,
      to_block: range.toBlock,
      next_block: range.fromBlock,
      status: 'pending',
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return job.id
}
