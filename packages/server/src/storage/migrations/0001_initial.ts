import { type Kysely, sql } from 'kysely'

/**
 * The first schema: every entity of DESIGN §3. Hashes and addresses are bytea (32 and 20 bytes),
 * block numbers and cursors bigint. Landed migrations are never edited; changes come as new ones.
 */
const statements = [
  `create table service_state (
    key text primary key,
    value jsonb not null,
    updated_at timestamptz not null default now()
  )`,

  // BLOCK: every block the follower stored; the canonical ones form one chain (invariant 1).
  `create table blocks (
    hash bytea primary key check (length(hash) = 32),
    number bigint not null check (number >= 0),
    parent_hash bytea not null check (length(parent_hash) = 32),
    canonical boolean not null,
    timestamp bigint not null,
    state_root bytea not null,
    receipts_root bytea not null,
    transactions_root bytea not null,
    logs_bloom bytea not null,
    header jsonb not null,
    tx_count integer not null,
    log_count integer not null,
    stored_at timestamptz not null default now()
  )`,
  `create unique index blocks_one_canonical_per_number on blocks (number) where canonical`,
  `create index blocks_number on blocks (number)`,
  `create index blocks_parent_hash on blocks (parent_hash)`,

  // CLIENT: id is the 20-byte address of the client's (off-chain) key.
  `create table clients (
    id bytea primary key check (length(id) = 20),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    plan text not null default 'default',
    stage text not null default 'active' check (stage in ('active', 'dormant', 'pruned')),
    stage_changed_at timestamptz not null default now(),
    dormant_from_block bigint,
    next_cursor bigint not null default 1,
    acked_cursor bigint not null default 0
  )`,
  `create index clients_last_seen on clients (last_seen_at)`,
  `create table client_usage (
    client_id bytea primary key references clients (id) on delete cascade,
    requests bigint not null default 0,
    filter_work bigint not null default 0,
    items_queued bigint not null default 0,
    bytes_queued bigint not null default 0,
    bytes_delivered bigint not null default 0,
    submissions bigint not null default 0,
    work_while_absent bigint not null default 0,
    updated_at timestamptz not null default now()
  )`,
  `create table sessions (
    token_hash bytea primary key,
    client_id bytea not null references clients (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`,
  `create index sessions_client on sessions (client_id)`,
  `create index sessions_expires on sessions (expires_at)`,
  `create table auth_challenges (
    nonce text primary key,
    address bytea not null check (length(address) = 20),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`,
  `create index auth_challenges_expires on auth_challenges (expires_at)`,

  // DEPLOYED_CONTRACT: one row per address some client is interested in (invariant 5, trigger below).
  `create table deployed_contracts (
    address bytea primary key check (length(address) = 20),
    is_deployed boolean not null default false,
    code_hash bytea,
    deployed_block_number bigint,
    deployed_block_hash bytea,
    checked_block_number bigint,
    created_at timestamptz not null default now()
  )`,
  `create index deployed_contracts_undeployed on deployed_contracts (address) where not is_deployed`,

  // CLIENT_CONTRACT: a client's interest; may exist before the contract is deployed.
  `create table client_contracts (
    id bigint generated always as identity primary key,
    client_id bytea not null references clients (id) on delete cascade,
    address bytea not null references deployed_contracts (address),
    start_block bigint,
    abi jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (client_id, address)
  )`,
  `create index client_contracts_address on client_contracts (address)`,

  // CLIENT_TX_FILTER and the state watches of an interest.
  `create table client_tx_filters (
    id bigint generated always as identity primary key,
    client_contract_id bigint not null references client_contracts (id) on delete cascade,
    client_id bytea not null references clients (id) on delete cascade,
    code text not null,
    args jsonb not null,
    cost integer not null default 1,
    created_at timestamptz not null default now()
  )`,
  `create index client_tx_filters_contract on client_tx_filters (client_contract_id)`,
  `create index client_tx_filters_client on client_tx_filters (client_id)`,
  `create table client_state_watches (
    id bigint generated always as identity primary key,
    client_contract_id bigint not null references client_contracts (id) on delete cascade,
    client_id bytea not null references clients (id) on delete cascade,
    kind text not null,
    args jsonb not null,
    created_at timestamptz not null default now()
  )`,
  `create index client_state_watches_contract on client_state_watches (client_contract_id)`,
  `create index client_state_watches_client on client_state_watches (client_id)`,

  // VERIFIED_TX: a transaction of a stored block that matched at least one filter.
  `create table verified_txs (
    block_hash bytea not null references blocks (hash) on delete cascade,
    tx_index integer not null,
    tx_hash bytea not null,
    block_number bigint not null,
    tx jsonb not null,
    receipt jsonb not null,
    primary key (block_hash, tx_index)
  )`,
  `create index verified_txs_tx_hash on verified_txs (tx_hash)`,

  // CLIENT_UNDELIVERED_TX and CLIENT_UNDELIVERED_CONTRACT_STATE, as one ordered queue per client.
  `create table client_deliveries (
    client_id bytea not null references clients (id) on delete cascade,
    cursor bigint not null,
    kind text not null check (kind in ('tx', 'log', 'state', 'deployed', 'submitted-status', 'removed', 'gap')),
    client_contract_id bigint references client_contracts (id) on delete cascade,
    filter_id bigint,
    block_number bigint,
    block_hash bytea,
    tx_hash bytea,
    tx_index integer,
    log_index integer,
    payload jsonb not null,
    bytes integer not null,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (client_id, cursor)
  )`,
  `create index client_deliveries_block on client_deliveries (block_hash)`,

  // CONTRACT_STATE: watched state as the node served it at a block.
  `create table contract_states (
    address bytea not null,
    block_hash bytea not null references blocks (hash) on delete cascade,
    block_number bigint not null,
    watch_key text not null,
    value jsonb not null,
    primary key (address, block_hash, watch_key)
  )`,
  `create index contract_states_latest on contract_states (address, watch_key, block_number desc)`,

  // CLIENT_SUBMITTED_TX
  `create table client_submitted_txs (
    client_id bytea not null references clients (id) on delete cascade,
    hash bytea not null,
    client_contract_id bigint references client_contracts (id) on delete set null,
    raw bytea not null,
    sender bytea not null,
    nonce bigint not null,
    status text not null check (status in ('pending', 'included', 'final', 'replaced', 'dropped', 'failed')),
    block_hash bytea,
    block_number bigint,
    receipt jsonb,
    submitted_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    expires_at timestamptz not null,
    primary key (client_id, hash)
  )`,
  `create index client_submitted_txs_sender_nonce on client_submitted_txs (sender, nonce)`,
  `create index client_submitted_txs_open on client_submitted_txs (status) where status in ('pending', 'included')`,

  // WALLET_STATE (seed 002): opaque ciphertext, its ETag, and recent versions for recovery.
  `create table wallet_states (
    client_id bytea primary key references clients (id) on delete cascade,
    version integer not null,
    etag text not null,
    data bytea not null,
    updated_at timestamptz not null default now()
  )`,
  `create table wallet_state_versions (
    client_id bytea not null references clients (id) on delete cascade,
    version integer not null,
    etag text not null,
    data bytea not null,
    created_at timestamptz not null default now(),
    primary key (client_id, version)
  )`,

  // Back-fill jobs: resumable scans of history for an interest.
  `create table backfill_jobs (
    id bigint generated always as identity primary key,
    client_contract_id bigint references client_contracts (id) on delete cascade,
    from_block bigint not null,
    to_block bigint not null,
    next_block bigint not null,
    status text not null check (status in ('pending', 'running', 'done', 'failed')),
    error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,
  `create index backfill_jobs_open on backfill_jobs (status) where status in ('pending', 'running')`,

  // Invariant 5 in the database: a deployed_contracts row lives exactly as long as some interest
  // refers to it, whichever way the last interest goes (withdrawn, or cascaded from its client).
  `create function drop_unreferenced_contract() returns trigger language plpgsql as $$
  begin
    delete from deployed_contracts d
    where d.address = old.address
      and not exists (select 1 from client_contracts c where c.address = old.address);
    return null;
  end
  $$`,
  `create trigger client_contracts_drop_unreferenced_contract
    after delete on client_contracts
    for each row execute function drop_unreferenced_contract()`,
]

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}
