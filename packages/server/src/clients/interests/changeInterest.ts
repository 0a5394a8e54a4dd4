import type { Kysely } from 'kysely'
import type { Hex } from 'viem'
import type { PlanLimits } from '../../config/planQuotas.js'
import { compileWatch } from '../../contract-state/compileWatch.js'
import type { WatchedInterest } from '../../contract-state/WatchIndex.js'
import { checkBackfillQuota } from '../../delivery/backfill/backfillQuota.js'
import { replaceContractBackfill } from '../../delivery/backfill/contractBackfillJobs.js'
import { BaseError } from '../../errors/BaseError.js'
import { compileFilter } from '../../filters/compileFilter.js'
import type { StoredInterest } from '../../filters/FilterIndex.js'
import type { DB } from '../../storage/schema.js'
import { deleteInterest, type Interest, markDeployed, putInterest } from './interestStore.js'
import { validateAbi } from './validateAbi.js'

export class TooManyFiltersError extends BaseError {
  override readonly name = 'TooManyFiltersError'
  constructor(limit: number) {
    super('TOO_MANY_FILTERS', `An interest may have at most ${limit} filters`, {
      status: 400,
      details: { limit },
    })
  }
}

export class TooManyWatchesError extends BaseError {
  override readonly name = 'TooManyWatchesError'
  constructor(limit: number) {
    super('TOO_MANY_WATCHES', `An interest may have at most ${limit} state watches`, {
      status: 400,
      details: { limit },
    })
  }
}

export class InterestNotFoundError extends BaseError {
  override readonly name = 'InterestNotFoundError'
  constructor(address: string) {
    super('INTEREST_NOT_FOUND', `No interest in ${address}`, { status: 404 })
  }
}

/** What changing interests touches: the storage, the leader's in-memory indexes, the node. */
export type InterestDeps = {
  db: Kysely<DB>
  /** The head the follower stands at, if it has one. */
  head(): number | undefined
  filters: { setInterest(interest: StoredInterest): void; removeInterest(clientContractId: number): void }
  contractState: {
    setInterest(interest: WatchedInterest): void
    removeInterest(clientContractId: number): void
  }
  backfills: { submit(jobId: number): void }
  /** The code at `address` now, or undefined when the node cannot say. */
  codeAt(address: Hex): Promise<Hex | undefined>
  /** Looks out for code appearing at an address with none yet. */
  watchUndeployed(address: Hex): void
}

export type InterestChange = {
  filters: { code: string; args: unknown[] }[]
  watches?: { kind: string; args: unknown[] }[] | undefined
  startBlock?: number | undefined
  abi?: unknown[] | undefined
}

/**
 * Creates or replaces a client's interest in `address`, within its plan: the filters, watches and
 * ABI are checked, stored, and put to work — from a back-fill of history when the start block is
 * at or below the head, live otherwise — and an address that already has code is marked deployed.
 */
export async function putClientInterest(
  deps: InterestDeps,
  client: { idBytes: Uint8Array; plan: PlanLimits },
  address: Hex,
  change: InterestChange,
): Promise<Interest> {
  const { plan } = client
  if (change.filters.length > plan.filtersPerInterest) throw new TooManyFiltersError(plan.filtersPerInterest)
  const filters = change.filters.map((filter, i) => ({
    ...filter,
    cost: compileFilter(filter.code, filter.args, i).cost,
  }))
  if (change.abi) validateAbi(change.abi)
  const watches = change.watches ?? []
  if (watches.length > plan.watchesPerInterest) throw new TooManyWatchesError(plan.watchesPerInterest)
  for (const [i, watch] of watches.entries()) compileWatch(watch.kind, watch.args, i)
  if (change.startBlock !== undefined) {
    const range = { startBlock: change.startBlock, head: deps.head() }
    await checkBackfillQuota(deps.db, client.idBytes, address, range, plan.backfillBlocks)
  }
  const { interest, stored, watched } = await putInterest(deps.db, client.idBytes, address, {
    filters,
    watches,
    startBlock: change.startBlock ?? null,
    abi: change.abi ?? null,
    maxInterests: plan.interests,
    maxFilterCost: plan.filterCost,
  })
  // History first: with a start block at or below the stored head, a back-fill scans up to
  // live matching and hands the interest over there; otherwise it is live from now on.
  const head = deps.head()
  const range =
    change.startBlock !== undefined && head !== undefined && change.startBlock <= head
      ? { fromBlock: change.startBlock, toBlock: head }
      : undefined
  // The interest's earlier back-fill, finished or not, is replaced by this request's (if any).
  const job = await replaceContractBackfill(deps.db, stored.clientContractId, range)
  interest.backfill = null
  if (range && job !== undefined) {
    deps.filters.removeInterest(stored.clientContractId)
    interest.backfill = { status: 'pending', ...range, nextBlock: range.fromBlock, error: null }
    deps.backfills.submit(job)
  } else {
    deps.filters.setInterest(stored)
  }
  deps.contractState.setInterest(watched)
  if (!interest.deployed) {
    // Code already at the address: deployed before the interest, so no `deployed` item is due.
    const code = await deps.codeAt(address)
    if (code && code !== '0x') {
      await markDeployed(deps.db, address)
      interest.deployed = true
    } else {
      deps.watchUndeployed(address)
    }
  }
  return interest
}

/** Withdraws a client's interest in `address`; its queued items go with it. */
export async function withdrawClientInterest(
  deps: Pick<InterestDeps, 'db' | 'filters' | 'contractState'>,
  clientId: Uint8Array,
  address: Hex,
): Promise<void> {
  const id = await deleteInterest(deps.db, clientId, address)
  if (id === undefined) throw new InterestNotFoundError(address)
  deps.filters.removeInterest(id)
  deps.contractState.removeInterest(id)
}
