import { type Kysely, sql } from 'kysely'

/**
 * What tracking submitted transactions needs beyond the first schema: the hash of the transaction
 * that took a replaced one's nonce, and indexes for the tracker's two lookups that are not by
 * client — the rows of an abandoned block (reorg) and the recently dropped ones it still watches.
 */
const statements = [
  `alter table client_submitted_txs add column replaced_by bytea check (length(replaced_by) = 32)`,
  `create index client_submitted_txs_block on client_submitted_txs (block_hash) where block_hash is not null`,
  `create index client_submitted_txs_dropped on client_submitted_txs (expires_at) where status = 'dropped'`,
]

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}
