import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { DB } from '../../storage/schema.js'

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

/** The client of a live session, or undefined for an unknown or expired token. */
export async function findSession(
  db: Kysely<DB>,
  token: string,
): Promise<{ clientId: Uint8Array } | undefined> {
  const row = await db
    .selectFrom('sessions')
    .select(['client_id'])
    .where('token_hash', '=', hashToken(token))
    .where('expires_at', '>', new Date())
    .executeTakeFirst()
  return row ? { clientId: row.client_id } : undefined
}

export async function deleteSession(db: Kysely<DB>, token: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute()
}
