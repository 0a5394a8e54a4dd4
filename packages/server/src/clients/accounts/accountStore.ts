import type { Kysely } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { releaseItemsOf } from '../../delivery/deliveryStore.js'
import { BaseError } from '../../errors/BaseError.js'
import type { StoredAccount } from '../../filters/AccountIndex.js'
import type { AccountActivityKind } from '../../filters/accountActivity.js'
import type { DB } from '../../storage/schema.js'
import { type BackfillStatus, backfillStatusOf } from '../interests/interestStore.js'

/** An account interest as the API shows it. */
export type Account = {
  address: Hex
  activity: AccountActivityKind[]
  /** The account's latest back-fill of history, where it asked for one (listings only). */
  backfill?: BackfillStatus | null
  createdAt: string
  updatedAt: string
}

export class TooManyAccountsError extends BaseError {
  override readonly name = 'TooManyAccountsError'
  constructor(limit: number) {
    super('TOO_MANY_ACCOUNTS', `A client may follow at most ${limit} accounts`, {
      status: 409,
      details: { limit },
    })
  }
}

export class AccountNotFoundError extends BaseError {
  override readonly name = 'AccountNotFoundError'
  constructor(address: string) {
    super('ACCOUNT_NOT_FOUND', `No account interest in ${address}`, { status: 404 })
  }
}

/** Creates or replaces the client's interest in the activity of `address`, within its plan's bound. */
export async function putAccount(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address: Hex,
  input: { activity: AccountActivityKind[]; maxAccounts: number },
): Promise<{ account: Account; stored: StoredAccount }> {
  const addressBytes = hexToBytes(address)
  const activity = JSON.stringify(input.activity)
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('client_accounts')
      .select('id')
      .where('client_id', '=', clientId)
      .where('address', '=', addressBytes)
      .executeTakeFirst()
    if (!existing) {
      const { count } = await trx
        .selectFrom('client_accounts')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('client_id', '=', clientId)
        .executeTakeFirstOrThrow()
      if (Number(count) >= input.maxAccounts) throw new TooManyAccountsError(input.maxAccounts)
    }
    const row = existing
      ? await trx
          .updateTable('client_accounts')
          .set({ activity, updated_at: new Date() })
          .where('id', '=', existing.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await trx
          .insertInto('client_accounts')
          .values({ client_id: clientId, address: addressBytes, activity })
          .returningAll()
          .executeTakeFirstOrThrow()
    return {
      account: toAccount(row),
      stored: { accountId: row.id, clientId: bytesToHex(clientId), address, activity: input.activity },
    }
  })
}

/** Withdraws the account interest (its queued items go with it); its id, or undefined if there was none. */
export async function deleteAccount(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address: Hex,
): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    // The cascade takes its queued items; those not acknowledged leave the backlog.
    await releaseItemsOf(trx, clientId, { account: address })
    const row = await trx
      .deleteFrom('client_accounts')
      .where('client_id', '=', clientId)
      .where('address', '=', hexToBytes(address))
      .returning('id')
      .executeTakeFirst()
    if (!row) return undefined
    return row.id
  })
}

export async function listAccounts(db: Kysely<DB>, clientId: Uint8Array): Promise<Account[]> {
  const rows = await db
    .selectFrom('client_accounts')
    .selectAll()
    .where('client_id', '=', clientId)
    .orderBy('id')
    .execute()
  if (rows.length === 0) return []
  const jobs = await db
    .selectFrom('backfill_jobs')
    .select(['client_account_id', 'status', 'from_block', 'to_block', 'next_block', 'error'])
    .where(
      'client_account_id',
      'in',
      rows.map((row) => row.id),
    )
    .orderBy('id')
    .execute()
  // The latest back-fill of each account wins (a new request replaces the earlier one's row).
  const backfills = new Map<number, BackfillStatus>()
  for (const job of jobs) backfills.set(job.client_account_id!, backfillStatusOf(job))
  return rows.map((row) => ({ ...toAccount(row), backfill: backfills.get(row.id) ?? null }))
}

function toAccount(row: {
  address: Uint8Array
  activity: unknown
  created_at: Date
  updated_at: Date
}): Account {
  return {
    address: bytesToHex(row.address),
    activity: row.activity as AccountActivityKind[],
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }
}
