import { type Kysely, sql } from 'kysely'

/**
 * Each client's backlog — items queued after its acknowledged cursor, and their bytes — kept as
 * counters on the client row, so that bounding it costs no scan of the queue when items are queued.
 * Maintained where items are queued, acknowledged, withdrawn by a reorg or deleted with an interest.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table clients add column backlog_items bigint not null default 0`.execute(db)
  await sql`alter table clients add column backlog_bytes bigint not null default 0`.execute(db)
  await sql`
    update clients c set
      backlog_items = q.items,
      backlog_bytes = q.bytes
    from (
      select d.client_id, count(*) as items, sum(d.bytes) as bytes
      from client_deliveries d join clients k on k.id = d.client_id
      where d.cursor > k.acked_cursor
      group by d.client_id
    ) q
    where q.client_id = c.id`.execute(db)
  await sql`create index clients_stage_changed on clients (stage, stage_changed_at)`.execute(db)
}
