import { type Kysely, sql } from 'kysely'

/**
 * The JSON-RPC endpoint: keys a client puts in its provider URL (stored hashed, revocable), and
 * durable filters and subscriptions. A filter's changes get a sequence of their own; the filter
 * reads and advances `read_seq`. Read changes stay until their block is final, so a reorg can send
 * them again flagged removed; changes that are themselves removal notices belong to no block.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table rpc_keys (
      id bigint generated always as identity primary key,
      client_id bytea not null references clients (id) on delete cascade,
      key_hash bytea not null unique,
      created_at timestamptz not null default now()
    )`.execute(db)
  await sql`create index rpc_keys_client on rpc_keys (client_id)`.execute(db)
  await sql`
    create table rpc_filters (
      id bytea primary key,
      client_id bytea not null references clients (id) on delete cascade,
      kind text not null check (kind in ('logs', 'blocks')),
      subscription boolean not null,
      criteria jsonb not null,
      next_seq bigint not null default 1,
      read_seq bigint not null default 0,
      created_at timestamptz not null default now(),
      last_used_at timestamptz not null default now()
    )`.execute(db)
  await sql`create index rpc_filters_client on rpc_filters (client_id)`.execute(db)
  await sql`create index rpc_filters_last_used on rpc_filters (last_used_at)`.execute(db)
  await sql`
    create table rpc_filter_changes (
      filter_id bytea not null references rpc_filters (id) on delete cascade,
      seq bigint not null,
      block_hash bytea,
      block_number bigint,
      payload jsonb not null,
      primary key (filter_id, seq)
    )`.execute(db)
  await sql`create index rpc_filter_changes_block on rpc_filter_changes (block_hash)`.execute(db)
  await sql`create index rpc_filter_changes_number on rpc_filter_changes (block_number)`.execute(db)
}
