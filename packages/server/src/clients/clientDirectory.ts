import { type Kysely, sql } from 'kysely'
import type { ClientStage, DB } from '../storage/schema.js'

/** Which clients an operator asks for; the filters combine. */
export type ClientListFilter = {
  stage?: ClientStage
  plan?: string
  seenBefore?: Date
  seenAfter?: Date
  /** Hex digits the id starts with (with or without 0x). */
  idPrefix?: string
  limit: number
  offset: number
}

/** A client with its stage, plan, backlog and metered usage, as the admin API shows it. */
const clientsWithUsage = (db: Kysely<DB>) =>
  db
    .selectFrom('clients as c')
    .leftJoin('client_usage as u', 'u.client_id', 'c.id')
    .select([
      'c.id',
      'c.plan',
      'c.stage',
      'c.created_at',
      'c.last_seen_at',
      'c.stage_changed_at',
      'c.backlog_items',
      'c.backlog_bytes',
      'u.requests',
      'u.filter_work',
      'u.items_queued',
      'u.bytes_queued',
      'u.bytes_delivered',
      'u.submissions',
      'u.work_while_absent',
      'u.backfill_calls',
      'u.state_reads',
    ])

export type ClientWithUsage = Awaited<ReturnType<ReturnType<typeof clientsWithUsage>['execute']>>[number]

/** A page of clients, most recently seen first. */
export async function listClients(db: Kysely<DB>, filter: ClientListFilter): Promise<ClientWithUsage[]> {
  let query = clientsWithUsage(db)
    .orderBy('c.last_seen_at', 'desc')
    .orderBy('c.id')
    .limit(filter.limit)
    .offset(filter.offset)
  if (filter.stage) query = query.where('c.stage', '=', filter.stage)
  if (filter.plan) query = query.where('c.plan', '=', filter.plan)
  if (filter.seenBefore) query = query.where('c.last_seen_at', '<', filter.seenBefore)
  if (filter.seenAfter) query = query.where('c.last_seen_at', '>', filter.seenAfter)
  if (filter.idPrefix) {
    const prefix = filter.idPrefix.replace(/^0x/, '').toLowerCase()
    query = query.where(sql<boolean>`encode(c.id, 'hex') like ${`${prefix}%`}`)
  }
  return query.execute()
}

/** One client with its usage; undefined when there is none by that id. */
export function findClientWithUsage(db: Kysely<DB>, id: Uint8Array): Promise<ClientWithUsage | undefined> {
  return clientsWithUsage(db).where('c.id', '=', id).executeTakeFirst()
}

/** Assigns a plan; false when there is no such client. */
export async function setClientPlan(db: Kysely<DB>, id: Uint8Array, plan: string): Promise<boolean> {
  const updated = await db.updateTable('clients').set({ plan }).where('id', '=', id).executeTakeFirst()
  return updated.numUpdatedRows > 0n
}

/** How many clients are in each stage. */
export async function countClientsByStage(
  db: Kysely<DB>,
): Promise<Record<ClientStage, number> & { total: number }> {
  const rows = await db
    .selectFrom('clients')
    .select(['stage', sql<string>`count(*)`.as('count')])
    .groupBy('stage')
    .execute()
  const counts = { active: 0, dormant: 0, pruned: 0, total: 0 }
  for (const row of rows) {
    counts[row.stage] = Number(row.count)
    counts.total += Number(row.count)
  }
  return counts
}

/** A client's queue position and its unacknowledged items by kind; undefined when there is no such client. */
export async function backlogOf(
  db: Kysely<DB>,
  id: Uint8Array,
): Promise<
  | {
      client: { backlog_items: number; backlog_bytes: number; next_cursor: number; acked_cursor: number }
      kinds: { kind: string; count: number; oldest: Date | null }[]
    }
  | undefined
> {
  const client = await db
    .selectFrom('clients')
    .select(['backlog_items', 'backlog_bytes', 'next_cursor', 'acked_cursor'])
    .where('id', '=', id)
    .executeTakeFirst()
  if (!client) return undefined
  const kinds = await db
    .selectFrom('client_deliveries')
    .select(['kind', sql<string>`count(*)`.as('count'), sql<Date | null>`min(created_at)`.as('oldest')])
    .where('client_id', '=', id)
    .where('cursor', '>', client.acked_cursor)
    .groupBy('kind')
    .execute()
  return {
    client,
    kinds: kinds.map((row) => ({ kind: row.kind, count: Number(row.count), oldest: row.oldest })),
  }
}

/** Contact: the client is here now, so nothing spent on it from now on counts as spent while absent. */
export async function touchClient(db: Kysely<DB>, clientId: Uint8Array): Promise<void> {
  // One statement, both rows or neither, without a transaction's round trips.
  await db
    .with('seen', (q) =>
      q.updateTable('clients').set({ last_seen_at: new Date() }).where('id', '=', clientId),
    )
    .updateTable('client_usage')
    .set({ work_while_absent: 0 })
    .where('client_id', '=', clientId)
    .execute()
}
