import { type Kysely, sql } from 'kysely'

/**
 * Account interests: a client follows everything that touches one of its own addresses, in any
 * contract (native transactions, token transfers, approvals, user operations). Items queued for
 * an account, and its back-fill, refer to it, so withdrawing the account takes them with it.
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
}
