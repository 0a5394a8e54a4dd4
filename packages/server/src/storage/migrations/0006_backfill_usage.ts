import { type Kysely, sql } from 'kysely'

/** Node calls made by a client's back-fills, metered like its requests and filter work. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table client_usage add column backfill_calls bigint not null default 0`.execute(db)
}
