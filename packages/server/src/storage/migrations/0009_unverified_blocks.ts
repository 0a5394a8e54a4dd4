import { type Kysely, sql } from 'kysely'

/**
 * Whether a block's transactions and receipts were checked against its header's roots. A block
 * with transaction types the backend cannot re-encode is stored unchecked only where the operator
 * chose to trust the node for them; proofs of its transactions and receipts are then refused.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table blocks add column verified boolean not null default true`.execute(db)
}
