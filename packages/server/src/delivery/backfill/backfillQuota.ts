import { type Kysely, sql } from 'kysely'
import { type Hex, hexToBytes } from 'viem'
import { BaseError } from '../../errors/BaseError.js'
import type { DB } from '../../storage/schema.js'

export class BackfillTooLargeError extends BaseError {
  override readonly name = 'BackfillTooLargeError'
  constructor(limit: number, wanted: number, outstanding: number) {
    super(
      'BACKFILL_TOO_LARGE',
      `A client's back-fills may cover at most ${limit} blocks at once; this one asks for ${wanted} with ${outstanding} outstanding`,
      { status: 409, details: { limit, wanted, outstanding } },
    )
  }
}

/**
 * Refuses a back-fill of `startBlock..head` when, with the blocks the client's other unfinished
 * back-fills (of contract and of account interests) still have to read, it would exceed the plan's
 * `backfillBlocks`. The interest's own unfinished back-fill does not count: a new one replaces it.
 */
export async function checkBackfillQuota(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address: Hex,
  range: { startBlock: number; head: number | undefined },
  limit: number,
  kind: 'contract' | 'account' = 'contract',
): Promise<void> {
  if (range.head === undefined || range.startBlock > range.head) return // live from now on
  const wanted = range.head - range.startBlock + 1
  const own = kind === 'contract' ? 'i.address' : 'a.address'
  const { outstanding } = await db
    .selectFrom('backfill_jobs as j')
    .leftJoin('client_contracts as i', 'i.id', 'j.client_contract_id')
    .leftJoin('client_accounts as a', 'a.id', 'j.client_account_id')
    .select(sql<string>`coalesce(sum(greatest(0, j.to_block - j.next_block + 1)), 0)`.as('outstanding'))
    .where((eb) => eb.or([eb('i.client_id', '=', clientId), eb('a.client_id', '=', clientId)]))
    .where((eb) => eb.or([eb(own, 'is', null), eb(own, '!=', hexToBytes(address))]))
    .where('j.status', 'in', ['pending', 'running'])
    .executeTakeFirstOrThrow()
  if (Number(outstanding) + wanted > limit)
    throw new BackfillTooLargeError(limit, wanted, Number(outstanding))
}
