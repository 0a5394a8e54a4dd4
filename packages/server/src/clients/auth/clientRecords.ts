import type { Kysely } from 'kysely'
import type { ClientStage, DB } from '../../storage/schema.js'

/** What sign-in needs to know of a client it has seen before. */
export type KnownClient = { stage: ClientStage; plan: string; backlogItems: number; backlogBytes: number }

export async function findClient(db: Kysely<DB>, id: Uint8Array): Promise<KnownClient | undefined> {
  const row = await db
    .selectFrom('clients')
    .select(['stage', 'plan', 'backlog_items', 'backlog_bytes'])
    .where('id', '=', id)
    .executeTakeFirst()
  return (
    row && {
      stage: row.stage,
      plan: row.plan,
      backlogItems: row.backlog_items,
      backlogBytes: row.backlog_bytes,
    }
  )
}
