import { type Kysely, type Selectable, sql } from 'kysely'
import type { ClientUsageTable, DB } from '../../storage/schema.js'

/** What a client stores, counted where it is stored. */
export type StoredByClient = {
  plan: string
  interests: number
  filters: number
  filter_cost: number
  backlog_items: number
  backlog_bytes: number
  wallet_state_bytes: number
}

/**
 * A client's metered counters (undefined before its first flush) and what it stores now; the
 * caller flushes the meter first when the counters must include the last seconds.
 */
export async function readClientUsage(
  db: Kysely<DB>,
  clientId: Uint8Array,
): Promise<{ counters: Selectable<ClientUsageTable> | undefined; stored: StoredByClient }> {
  const counters = await db
    .selectFrom('client_usage')
    .selectAll()
    .where('client_id', '=', clientId)
    .executeTakeFirst()
  const { rows } = await sql<StoredByClient>`
    select c.plan,
      (select count(*) from client_contracts i where i.client_id = c.id)::int as interests,
      (select count(*) from client_tx_filters f where f.client_id = c.id)::int as filters,
      (select coalesce(sum(f.cost), 0) from client_tx_filters f where f.client_id = c.id)::int as filter_cost,
      c.backlog_items, c.backlog_bytes,
      (select coalesce(octet_length(w.data), 0) from wallet_states w where w.client_id = c.id)::bigint as wallet_state_bytes
    from clients c where c.id = ${clientId}`.execute(db)
  return { counters, stored: rows[0]! }
}
