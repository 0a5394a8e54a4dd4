import type { Kysely } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { LeaderRuntime, SharedRuntime } from '../../api/AppContext.js'
import { loadWatchedInterests } from '../../contract-state/WatchIndex.js'
import type { StoredInterest } from '../../filters/FilterIndex.js'
import type { DB } from '../../storage/schema.js'

/** Where a client's live matching lives: the database and the in-memory indexes of filters and watches. */
export type ClientIndexes = {
  db: SharedRuntime['db']
  filters: Pick<LeaderRuntime['filters'], 'removeClient'>
  contractState: { index: Pick<LeaderRuntime['contractState']['index'], 'removeClient'> }
  /** Account interests: gone with a pruned or deleted client (a dormant one keeps them, unqueued). */
  accounts?: Pick<LeaderRuntime['accounts'], 'removeClient'>
}

/**
 * What changes a client's stage: the leader's, between follow cycles (`follower.exclusive`), so
 * that no batch is matched halfway through the change (docs/architecture.md, invariant 9).
 */
export type StageWriter = {
  follower: Pick<LeaderRuntime['follower'], 'exclusive' | 'snapshot'>
  queue: LeaderRuntime['queue']
}

/**
 * Stage 1 of the abandoned-client policy: the client stops being matched and queued for from the
 * first block not matched yet (the queue takes it out of the live indexes once committed); its
 * identity, interests, filters and wallet state stay. Returns false if it was not active.
 */
export function makeDormant(
  { follower, queue }: StageWriter,
  clientId: Hex,
  at: Date = new Date(),
): Promise<boolean> {
  return follower.exclusive(async () => {
    const made = await queue.transaction((writer) => writer.makeDormant([clientId], at))
    return made.length > 0
  })
}

/**
 * A dormant (or pruned) client is back: active again, its filters live again, and a `gap` item
 * names the blocks it missed, which it can back-fill (an interest with a startBlock) if it wants
 * them. A pruned client has no interests left; its gap tells it from where to re-register them.
 * Between follow cycles: the gap ends at the stored head and matching resumes at the next block,
 * so no block falls between the two.
 */
export function wakeClient(
  runtime: StageWriter & Pick<LeaderRuntime, 'db' | 'filters' | 'contractState'>,
  clientId: Hex,
): Promise<{ fromBlock: number; toBlock: number } | undefined> {
  const { db, follower, queue, filters, contractState } = runtime
  return follower.exclusive(async () => {
    const head = follower.snapshot().head?.number ?? 0
    const gap = await queue.transaction((writer) => writer.wake(clientId, head))
    if (!gap) return undefined
    const id = hexToBytes(clientId)
    for (const interest of await interestsOf(db, id)) filters.setInterest(interest)
    // Its watches come back with their current values: what changed while it was away is not replayed.
    for (const interest of await loadWatchedInterests(db, id)) contractState.setInterest(interest)
    return gap
  })
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
