import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { ClientStage, DB } from '../../storage/schema.js'

const hashToken = (token: string) => createHash('sha256').update(token).digest()

/** A new session: the token goes to the client, only its SHA-256 is stored. */
export async function createSession(
  db: Kysely<DB>,
  clientId: Uint8Array,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url')
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000)
  await db
    .insertInto('sessions')
    .values({ token_hash: hashToken(token), client_id: clientId, expires_at: expiresAt })
    .execute()
  return { token, expiresAt }
}

export type SessionOwner = {
  clientId: Uint8Array
  plan: string
  stage: ClientStage
  backlogItems: number
  backlogBytes: number
}

/** The client of a live session, with what the limits need of it, or undefined for an unknown or expired token. */
export async function findSession(db: Kysely<DB>, token: string): Promise<SessionOwner | undefined> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('clients as c', 'c.id', 's.client_id')
    .select(['s.client_id', 'c.plan', 'c.stage', 'c.backlog_items', 'c.backlog_bytes'])
    .where('s.token_hash', '=', hashToken(token))
    .where('s.expires_at', '>', new Date())
    .executeTakeFirst()
  return row
    ? {
        clientId: row.client_id,
        plan: row.plan,
        stage: row.stage,
        backlogItems: row.backlog_items,
        backlogBytes: row.backlog_bytes,
      }
    : undefined
}

export async function deleteSession(db: Kysely<DB>, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute()
}
