import { type Kysely, sql } from 'kysely'

/**
 * Cost accounts shared by the instances on one database: each instance adds what it charged a
 * key since it last wrote, decaying the row at the key's rate, and reads back the total, so a
 * client spread over several instances has one budget, not one per instance.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table cost_accounts (
      key text primary key,
      cost double precision not null,
      per_second double precision not null,
      at timestamptz not null default now()
    )`.execute(db)
}
