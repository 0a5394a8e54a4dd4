import { type Kysely, sql } from 'kysely'

/**
 * Node work done for a client away from its requests, metered like its requests and filter work:
 * the calls its back-fills make, and its share of the state reads its watches cause.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table client_usage add column backfill_calls bigint not null default 0`.execute(db)
  await sql`alter table client_usage add column state_reads bigint not null default 0`.execute(db)
}
