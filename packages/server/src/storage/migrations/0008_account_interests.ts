import { type Kysely, sql } from 'kysely'

/**
 * Account interests: a client follows everything that touches one of its own addresses, in any
 * contract (native transactions, token transfers, approvals, user operations). Items queued for
 * an account, and its back-fill, refer to it, so withdrawing the account takes them with it. Token
 * metadata is read once per token for everyone; an account's first item of a token carries it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table client_accounts (
      id bigint generated always as identity primary key,
      client_id bytea not null references clients (id) on delete cascade,
      address bytea not null,
      activity jsonb not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (client_id, address)
    )`.execute(db)
  await sql`create index client_accounts_address on client_accounts (address)`.execute(db)
  await sql`alter table client_deliveries drop constraint client_deliveries_kind_check`.execute(db)
  await sql`
    alter table client_deliveries add constraint client_deliveries_kind_check check (kind in
      ('tx', 'log', 'state', 'deployed', 'submitted-status', 'removed', 'gap', 'account'))`.execute(db)
  await sql`
    alter table client_deliveries
      add column client_account_id bigint references client_accounts (id) on delete cascade`.execute(db)
  await sql`
    alter table backfill_jobs
      add column client_account_id bigint references client_accounts (id) on delete cascade`.execute(db)
  // Token metadata, read once per token for everyone; and which tokens each account has been told about.
  await sql`
    create table token_metadata (
      address bytea primary key,
      name text,
      symbol text,
      decimals integer,
      read_at timestamptz not null default now()
    )`.execute(db)
  await sql`
    create table client_account_tokens (
      client_account_id bigint not null references client_accounts (id) on delete cascade,
      token bytea not null,
      block_hash bytea not null,
      primary key (client_account_id, token)
    )`.execute(db)
  await sql`create index client_account_tokens_block on client_account_tokens (block_hash)`.execute(db)
}
