import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { ClientStage, DB } from '../../storage/schema.js'

const hashToken = (token: string) => createHash('sha256').update(token).digest()

/** How long sessions live and how many a client may hold (from the configuration). */
export type SessionPolicy = {
  ttlSeconds: number
  /** Bound on a sign-in's life, refreshes included. */
  maxLifetimeSeconds: number
  maxPerClient: number
}

/**
 * A new session: the token goes to the client, only its SHA-256 is stored. `created_at` is when
 * the client signed in, carried over by refreshes (`signedInAt`), so no chain of refreshes
 * outlives `maxLifetimeSeconds`. A client holds at most `maxPerClient` sessions: beyond that the
 * oldest sign-ins are revoked, so signing in over and over costs rows of one client only, and a
 * leaked token dies as its owner keeps signing in. `replaces` (a refresh) is revoked with it.
 * `register` creates the client (and its usage row) with its first session, in one statement:
 * a client that did not exist has no other session to revoke.
 */
export async function createSession(
  db: Kysely<DB>,
  clientId: Uint8Array,
  policy: SessionPolicy,
  options: { signedInAt?: Date; replaces?: string; register?: boolean } = {},
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url')
  const signedInAt = options.signedInAt ?? new Date()
  const expiresAt = new Date(
    Math.min(Date.now() + policy.ttlSeconds * 1000, signedInAt.getTime() + policy.maxLifetimeSeconds * 1000),
  )
  const row = {
    token_hash: hashToken(token),
    client_id: clientId,
    created_at: signedInAt,
    expires_at: expiresAt,
  }
  if (options.register) {
    // One statement: the session's reference to the client is checked at its end, when the
    // client's row is there.
    await db
      .with('client', (q) =>
        q
          .insertInto('clients')
          .values({ id: clientId })
          .onConflict((oc) => oc.doNothing()),
      )
      .with('usage', (q) =>
        q
          .insertInto('client_usage')
          .values({ client_id: clientId })
          .onConflict((oc) => oc.doNothing()),
      )
      .insertInto('sessions')
      .values(row)
      .execute()
    return { token, expiresAt }
  }
  await db.transaction().execute(async (trx) => {
    if (options.replaces !== undefined)
      await trx.deleteFrom('sessions').where('token_hash', '=', hashToken(options.replaces)).execute()
    await trx.insertInto('sessions').values(row).execute()
    const kept = trx
      .selectFrom('sessions')
      .select('token_hash')
      .where('client_id', '=', clientId)
      .where('expires_at', '>', new Date())
      .orderBy('created_at', 'desc')
      .orderBy('expires_at', 'desc')
      .limit(policy.maxPerClient)
    await trx
      .deleteFrom('sessions')
      .where('client_id', '=', clientId)
      .where('token_hash', 'not in', kept)
      .execute()
  })
  return { token, expiresAt }
}

export type SessionOwner = {
  clientId: Uint8Array
  /** When the client signed in for this session (refreshes keep it). */
  signedInAt: Date
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
    .select(['s.client_id', 's.created_at', 'c.plan', 'c.stage', 'c.backlog_items', 'c.backlog_bytes'])
    .where('s.token_hash', '=', hashToken(token))
    .where('s.expires_at', '>', new Date())
    .executeTakeFirst()
  return row
    ? {
        clientId: row.client_id,
        signedInAt: row.created_at,
        plan: row.plan,
        stage: row.stage,
        backlogItems: row.backlog_items,
        backlogBytes: row.backlog_bytes,
      }
    : undefined
}
