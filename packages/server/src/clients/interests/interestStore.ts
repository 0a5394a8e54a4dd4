import type {
  FilterCode,
  BackfillStatus as ProtocolBackfillStatus,
  Interest as ProtocolInterest,
  WatchKind,
} from '@wallet-backend/sdk/protocol'
import type { Kysely } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { WatchedInterest } from '../../contract-state/WatchIndex.js'
import { releaseItemsOf } from '../../delivery/deliveryStore.js'
import { BaseError } from '../../errors/BaseError.js'
import type { StoredInterest } from '../../filters/FilterIndex.js'
import type { DB } from '../../storage/schema.js'

export type BackfillStatus = ProtocolBackfillStatus

/** A `backfill_jobs` row as clients see it. */
export function backfillStatusOf(job: {
  status: BackfillStatus['status']
  from_block: number | string
  to_block: number | string
  next_block: number | string
  error: string | null
}): BackfillStatus {
  return {
    status: job.status,
    fromBlock: Number(job.from_block),
    toBlock: Number(job.to_block),
    nextBlock: Number(job.next_block),
    error: job.error,
  }
}

export type FilterInput = { code: string; args: unknown[]; cost?: number }
export type WatchInput = { kind: string; args: unknown[] }

/** An interest as the API shows it: the protocol's shape. */
export type Interest = ProtocolInterest

export class TooManyInterestsError extends BaseError {
  override readonly name = 'TooManyInterestsError'
  constructor(limit: number) {
    super('TOO_MANY_INTERESTS', `A client may be interested in at most ${limit} contracts`, {
      status: 409,
      details: { limit },
    })
  }
}

export class FilterCostExceededError extends BaseError {
  override readonly name = 'FilterCostExceededError'
  constructor(limit: number, wanted: number) {
    super(
      'FILTER_COST_EXCEEDED',
      `The filters of a client may cost at most ${limit} together; these would make ${wanted}`,
      { status: 409, details: { limit, wanted } },
    )
  }
}

/**
 * Creates or replaces the client's interest in `address` with exactly these filters, in one
 * transaction. The contract row is made first (the interest refers to it); the database drops it
 * again with the last interest.
 */
export async function putInterest(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address: Hex,
  input: {
    filters: FilterInput[]
    watches: WatchInput[]
    startBlock: number | null
    abi: unknown[] | null
    maxInterests: number
    /** Bound on the summed cost of all the client's filters (filter complexity), this interest's new ones included. */
    maxFilterCost?: number
  },
): Promise<{ interest: Interest; stored: StoredInterest; watched: WatchedInterest }> {
  const addressBytes = hexToBytes(address)
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('deployed_contracts')
      .values({ address: addressBytes })
      .onConflict((oc) => oc.doNothing())
      .execute()
    const existing = await trx
      .selectFrom('client_contracts')
      .select('id')
      .where('client_id', '=', clientId)
      .where('address', '=', addressBytes)
      .executeTakeFirst()
    if (!existing) {
      const { count } = await trx
        .selectFrom('client_contracts')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('client_id', '=', clientId)
        .executeTakeFirstOrThrow()
      if (Number(count) >= input.maxInterests) throw new TooManyInterestsError(input.maxInterests)
    }
    if (input.maxFilterCost !== undefined) {
      const others = await trx
        .selectFrom('client_tx_filters as f')
        .innerJoin('client_contracts as i', 'i.id', 'f.client_contract_id')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('f.cost'), eb.lit(0)).as('cost'))
        .where('f.client_id', '=', clientId)
        .where('i.address', '!=', addressBytes)
        .executeTakeFirstOrThrow()
      const wanted = Number(others.cost) + input.filters.reduce((sum, f) => sum + (f.cost ?? 1), 0)
      if (wanted > input.maxFilterCost) throw new FilterCostExceededError(input.maxFilterCost, wanted)
    }
    const values = {
      start_block: input.startBlock,
      abi: input.abi === null ? null : JSON.stringify(input.abi),
      updated_at: new Date(),
    }
    const row = existing
      ? await trx
          .updateTable('client_contracts')
          .set(values)
          .where('id', '=', existing.id)
          .returning('id')
          .executeTakeFirstOrThrow()
      : await trx
          .insertInto('client_contracts')
          .values({ client_id: clientId, address: addressBytes, ...values })
          .returning('id')
          .executeTakeFirstOrThrow()
    await trx.deleteFrom('client_tx_filters').where('client_contract_id', '=', row.id).execute()
    if (input.filters.length > 0) {
      await trx
        .insertInto('client_tx_filters')
        .values(
          input.filters.map((filter) => ({
            client_contract_id: row.id,
            client_id: clientId,
            code: filter.code,
            args: JSON.stringify(filter.args),
            cost: filter.cost ?? 1,
          })),
        )
        .execute()
    }
    await trx.deleteFrom('client_state_watches').where('client_contract_id', '=', row.id).execute()
    if (input.watches.length > 0) {
      await trx
        .insertInto('client_state_watches')
        .values(
          input.watches.map((watch) => ({
            client_contract_id: row.id,
            client_id: clientId,
            kind: watch.kind,
            args: JSON.stringify(watch.args),
          })),
        )
        .execute()
    }
    const interest = (await listInterests(trx, clientId, address))[0]!
    return {
      watched: {
        clientContractId: row.id,
        clientId: bytesToHex(clientId),
        address,
        abi: interest.abi,
        watches: interest.watches,
      },
      interest,
      stored: {
        clientContractId: row.id,
        clientId: bytesToHex(clientId),
        address,
        filters: interest.filters,
      },
    }
  })
}

/** Withdraws the interest (its queued items go with it); returns its id, or undefined if there was none. */
export async function deleteInterest(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address: Hex,
): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    // The cascade takes its queued items; those not acknowledged leave the backlog.
    await releaseItemsOf(trx, clientId, { interest: address })
    const row = await trx
      .deleteFrom('client_contracts')
      .where('client_id', '=', clientId)
      .where('address', '=', hexToBytes(address))
      .returning('id')
      .executeTakeFirst()
    if (!row) return undefined
    return row.id
  })
}

/** The client's interests (or the one in `address`), with their filters. */
export async function listInterests(
  db: Kysely<DB>,
  clientId: Uint8Array,
  address?: Hex,
): Promise<Interest[]> {
  let query = db
    .selectFrom('client_contracts as i')
    .innerJoin('deployed_contracts as d', 'd.address', 'i.address')
    .select(['i.id', 'i.address', 'i.start_block', 'i.abi', 'i.created_at', 'i.updated_at', 'd.is_deployed'])
    .where('i.client_id', '=', clientId)
    .orderBy('i.id')
  if (address) query = query.where('i.address', '=', hexToBytes(address))
  const interests = await query.execute()
  if (interests.length === 0) return []
  const filters = await db
    .selectFrom('client_tx_filters')
    .select(['id', 'client_contract_id', 'code', 'args'])
    .where(
      'client_contract_id',
      'in',
      interests.map((i) => i.id),
    )
    .orderBy('id')
    .execute()
  const watches = await db
    .selectFrom('client_state_watches')
    .select(['id', 'client_contract_id', 'kind', 'args'])
    .where(
      'client_contract_id',
      'in',
      interests.map((i) => i.id),
    )
    .orderBy('id')
    .execute()
  const backfills = new Map<number, BackfillStatus>()
  const jobs = await db
    .selectFrom('backfill_jobs')
    .select(['client_contract_id', 'status', 'from_block', 'to_block', 'next_block', 'error'])
    .where('client_contract_id', 'in', [...new Set(interests.map((i) => i.id))])
    .orderBy('id')
    .execute()
  // The latest back-fill of each interest wins (a new request replaces the earlier one's row).
  for (const job of jobs) backfills.set(job.client_contract_id!, backfillStatusOf(job))
  return interests.map((i) => ({
    address: bytesToHex(i.address),
    startBlock: i.start_block,
    abi: (i.abi as unknown[] | null) ?? null,
    deployed: i.is_deployed,
    // Codes and kinds are stored only once compileFilter/compileWatch accepted them.
    filters: filters
      .filter((f) => f.client_contract_id === i.id)
      .map((f) => ({ id: f.id, code: f.code as FilterCode, args: f.args as unknown[] })),
    watches: watches
      .filter((w) => w.client_contract_id === i.id)
      .map((w) => ({ id: w.id, kind: w.kind as WatchKind, args: w.args as unknown[] })),
    backfill: backfills.get(i.id) ?? null,
    createdAt: i.created_at.toISOString(),
    updatedAt: i.updated_at.toISOString(),
  }))
}

/** Code was found at `address` outside the follower (before the interest): no `deployed` item is due. */
export async function markDeployed(db: Kysely<DB>, address: Hex): Promise<void> {
  await db
    .updateTable('deployed_contracts')
    .set({ is_deployed: true })
    .where('address', '=', hexToBytes(address))
    .execute()
}

/** Whether the client has an interest in `address`. */
export async function hasInterest(db: Kysely<DB>, clientId: Uint8Array, address: Hex): Promise<boolean> {
  const row = await db
    .selectFrom('client_contracts')
    .select('id')
    .where('client_id', '=', clientId)
    .where('address', '=', hexToBytes(address))
    .executeTakeFirst()
  return row !== undefined
}

/** The contract address of an interest by its id; undefined once the interest is gone. */
export async function interestAddressById(db: Kysely<DB>, id: number): Promise<Hex | undefined> {
  const row = await db
    .selectFrom('client_contracts')
    .select('address')
    .where('id', '=', id)
    .executeTakeFirst()
  return row ? bytesToHex(row.address) : undefined
}
