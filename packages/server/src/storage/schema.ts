import type { ColumnType, Generated } from 'kysely'

/** bytea: addresses (20 bytes) and hashes (32 bytes). Both drivers return a Uint8Array (pg a Buffer, which is one). */
export type Bytes = Uint8Array
/** A timestamptz the database fills in when omitted. */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>
/** jsonb: written as a JSON string, read back parsed. */
type Json<T = unknown> = ColumnType<T, string, string>

export interface ServiceStateTable {
  key: string
  value: Json
  updated_at: CreatedAt
}

export interface BlocksTable {
  hash: Bytes
  number: number
  parent_hash: Bytes
  canonical: boolean
  timestamp: number
  state_root: Bytes
  receipts_root: Bytes
  transactions_root: Bytes
  logs_bloom: Bytes
  /** Every header field as the node returned it, so a client can recompute the block hash. */
  header: Json<Record<string, unknown>>
  tx_count: number
  log_count: number
  /** False for a block taken on the node's word: its roots could not be checked. */
  verified: ColumnType<boolean, boolean | undefined, boolean>
  stored_at: CreatedAt
}

export type ClientStage = 'active' | 'dormant' | 'pruned'

export interface ClientsTable {
  id: Bytes
  created_at: CreatedAt
  last_seen_at: CreatedAt
  plan: ColumnType<string, string | undefined, string>
  stage: ColumnType<ClientStage, ClientStage | undefined, ClientStage>
  stage_changed_at: CreatedAt
  dormant_from_block: number | null
  next_cursor: ColumnType<number, number | undefined, number>
  acked_cursor: ColumnType<number, number | undefined, number>
  /** Items queued after the acknowledged cursor, and their bytes (migration 0004). */
  backlog_items: ColumnType<number, number | undefined, number>
  backlog_bytes: ColumnType<number, number | undefined, number>
}

type Counter = ColumnType<number, number | undefined, number>

export interface ClientUsageTable {
  client_id: Bytes
  requests: Counter
  filter_work: Counter
  items_queued: Counter
  bytes_queued: Counter
  bytes_delivered: Counter
  submissions: Counter
  work_while_absent: Counter
  /** Node calls made by the client's back-fills (migration 0006). */
  backfill_calls: Counter
  /** The client's share of the node reads its state watches cause (migration 0006). */
  state_reads: Counter
  updated_at: CreatedAt
}

export interface SessionsTable {
  token_hash: Bytes
  client_id: Bytes
  created_at: CreatedAt
  expires_at: Date
}

export interface AuthChallengesTable {
  nonce: string
  address: Bytes
  created_at: CreatedAt
  expires_at: Date
}

export interface DeployedContractsTable {
  address: Bytes
  is_deployed: ColumnType<boolean, boolean | undefined, boolean>
  code_hash: Bytes | null
  deployed_block_number: number | null
  deployed_block_hash: Bytes | null
  checked_block_number: number | null
  created_at: CreatedAt
}

export interface ClientContractsTable {
  id: Generated<number>
  client_id: Bytes
  address: Bytes
  start_block: number | null
  abi: Json | null
  created_at: CreatedAt
  updated_at: CreatedAt
}

/** A client's interest in one of its own addresses (migration 0008). */
export interface ClientAccountsTable {
  id: Generated<number>
  client_id: Bytes
  address: Bytes
  /** The kinds of activity followed, e.g. ["native", "tokens"]. */
  activity: Json<string[]>
  created_at: CreatedAt
  updated_at: CreatedAt
}

/** Name, symbol and decimals of a token contract, as its view functions answered (migration 0008). */
export interface TokenMetadataTable {
  address: Bytes
  name: string | null
  symbol: string | null
  decimals: number | null
  read_at: CreatedAt
}

/** The tokens an account has had items of, and the block of the first (migration 0008). */
export interface ClientAccountTokensTable {
  client_account_id: number
  token: Bytes
  block_hash: Bytes
}

export interface ClientTxFiltersTable {
  id: Generated<number>
  client_contract_id: number
  client_id: Bytes
  code: string
  args: Json<unknown[]>
  cost: ColumnType<number, number | undefined, number>
  created_at: CreatedAt
}

export interface ClientStateWatchesTable {
  id: Generated<number>
  client_contract_id: number
  client_id: Bytes
  kind: string
  args: Json
  created_at: CreatedAt
}

export interface VerifiedTxsTable {
  block_hash: Bytes
  tx_index: number
  tx_hash: Bytes
  block_number: number
  tx: Json
  receipt: Json
}

export type DeliveryKind =
  | 'tx'
  | 'log'
  | 'state'
  | 'deployed'
  | 'submitted-status'
  | 'removed'
  | 'gap'
  | 'account'

export interface ClientDeliveriesTable {
  client_id: Bytes
  cursor: number
  kind: DeliveryKind
  client_contract_id: number | null
  filter_id: number | null
  block_number: number | null
  block_hash: Bytes | null
  tx_hash: Bytes | null
  tx_index: number | null
  log_index: number | null
  payload: Json
  /** The account interest an `account` item is for (migration 0008). */
  client_account_id: ColumnType<number | null, number | null | undefined, number | null>
  bytes: number
  delivered_at: Date | null
  created_at: CreatedAt
}

export interface ContractStatesTable {
  address: Bytes
  block_hash: Bytes
  block_number: number
  watch_key: string
  value: Json
}

export type SubmittedTxStatus = 'pending' | 'included' | 'final' | 'replaced' | 'dropped' | 'failed'

export interface ClientSubmittedTxsTable {
  client_id: Bytes
  hash: Bytes
  client_contract_id: number | null
  raw: Bytes
  sender: Bytes
  nonce: number
  status: SubmittedTxStatus
  block_hash: Bytes | null
  block_number: number | null
  receipt: Json | null
  /** Replaced: the transaction that was included with the same sender and nonce (migration 0003). */
  replaced_by: Bytes | null
  submitted_at: CreatedAt
  updated_at: CreatedAt
  expires_at: Date
}

export interface WalletStatesTable {
  client_id: Bytes
  version: number
  etag: string
  data: Bytes
  updated_at: CreatedAt
}

export interface WalletStateVersionsTable {
  client_id: Bytes
  version: number
  etag: string
  data: Bytes
  created_at: CreatedAt
}

export interface BackfillJobsTable {
  id: Generated<number>
  client_contract_id: number | null
  /** The account interest a back-fill is for (migration 0008). */
  client_account_id: ColumnType<number | null, number | null | undefined, number | null>
  from_block: number
  to_block: number
  next_block: number
  status: 'pending' | 'running' | 'done' | 'failed'
  error: string | null
  created_at: CreatedAt
  updated_at: CreatedAt
}

/** A cost account shared by the instances on one database (migration 0007). */
export interface CostAccountsTable {
  key: string
  cost: number
  per_second: number
  at: CreatedAt
}

export interface RpcKeysTable {
  id: Generated<number>
  client_id: Bytes
  key_hash: Bytes
  created_at: CreatedAt
}

export type RpcFilterKind = 'logs' | 'blocks'

export interface RpcFiltersTable {
  id: Bytes
  client_id: Bytes
  kind: RpcFilterKind
  subscription: boolean
  criteria: Json<Record<string, unknown>>
  next_seq: ColumnType<number, number | undefined, number>
  read_seq: ColumnType<number, number | undefined, number>
  created_at: CreatedAt
  last_used_at: CreatedAt
}

export interface RpcFilterChangesTable {
  filter_id: Bytes
  seq: number
  block_hash: Bytes | null
  block_number: number | null
  payload: Json
}

/** The whole schema, as Kysely sees it. */
/** The single row of who follows the chain (migration 0005). */
export interface LeadershipTable {
  id: ColumnType<number, never, never>
  term: ColumnType<number, never, number>
  holder: string | null
  url: string | null
  secret: string | null
  head_number: number | null
  head_hash: Bytes | null
  safe_number: number | null
  finalized_number: number | null
  elected_at: Date | null
  updated_at: CreatedAt
}

export interface DB {
  service_state: ServiceStateTable
  blocks: BlocksTable
  clients: ClientsTable
  client_usage: ClientUsageTable
  sessions: SessionsTable
  auth_challenges: AuthChallengesTable
  deployed_contracts: DeployedContractsTable
  client_contracts: ClientContractsTable
  client_tx_filters: ClientTxFiltersTable
  client_accounts: ClientAccountsTable
  token_metadata: TokenMetadataTable
  client_account_tokens: ClientAccountTokensTable
  client_state_watches: ClientStateWatchesTable
  verified_txs: VerifiedTxsTable
  client_deliveries: ClientDeliveriesTable
  contract_states: ContractStatesTable
  client_submitted_txs: ClientSubmittedTxsTable
  wallet_states: WalletStatesTable
  wallet_state_versions: WalletStateVersionsTable
  backfill_jobs: BackfillJobsTable
  leadership: LeadershipTable
  cost_accounts: CostAccountsTable
  rpc_keys: RpcKeysTable
  rpc_filters: RpcFiltersTable
  rpc_filter_changes: RpcFilterChangesTable
}
