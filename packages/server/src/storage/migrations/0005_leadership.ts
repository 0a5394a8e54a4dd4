import { type Kysely, sql } from 'kysely'

/**
 * One row naming the instance that follows the chain (the holder of the advisory lock), with its
 * term — a fencing token bumped at each election, which the follower's transactions check so a
 * deposed leader cannot commit — where standbys forward writes to, and the chain position the
 * leader last committed, which standbys serve from.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table leadership (
      id smallint primary key default 1 check (id = 1),
      term bigint not null default 0,
      holder text,
      url text,
      secret text,
      head_number bigint,
      head_hash bytea,
      safe_number bigint,
      finalized_number bigint,
      elected_at timestamptz,
      updated_at timestamptz not null default now()
    )`.execute(db)
  await sql`insert into leadership (id) values (1)`.execute(db)
}
