import { type Kysely, sql } from 'kysely'

/**
 * A contract's watched value is stored at the block where it changed and stays its value until the
 * next change, which may be long after that block was pruned: the row must outlive its block. Rows
 * of blocks a reorg abandons are deleted by the state watcher in the reorg's transaction instead.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table contract_states drop constraint contract_states_block_hash_fkey`.execute(db)
  await sql`create index contract_states_block on contract_states (block_hash)`.execute(db)
}
