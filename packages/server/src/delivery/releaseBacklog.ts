import { sql, type Transaction } from 'kysely'
import type { DB } from '../storage/schema.js'

/**
 * Takes unacknowledged items that leave the queue without an ack (withdrawn by a reorg, deleted
 * with their interest) off their clients' backlog counters.
 */
export async function releaseBacklog(
  trx: Transaction<DB>,
  gone: readonly { client_id: Uint8Array; bytes: number }[],
): Promise<void> {
  if (gone.length === 0) return
  const perClient = new Map<string, { id: Uint8Array; items: number; bytes: number }>()
  for (const row of gone) {
    const key = Buffer.from(row.client_id).toString('hex')
    const entry = perClient.get(key) ?? { id: row.client_id, items: 0, bytes: 0 }
    entry.items += 1
    entry.bytes += row.bytes
    perClient.set(key, entry)
  }
  const values = sql.join(
    [...perClient.values()].map((e) => sql`(${e.id}::bytea, ${e.items}::bigint, ${e.bytes}::bigint)`),
  )
  await sql`
    update clients as c set
      backlog_items = greatest(0, c.backlog_items - v.items),
      backlog_bytes = greatest(0, c.backlog_bytes - v.bytes)
    from (values ${values}) as v(id, items, bytes)
    where c.id = v.id`.execute(trx)
}
