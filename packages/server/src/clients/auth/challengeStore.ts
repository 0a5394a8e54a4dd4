import type { Kysely } from 'kysely'
import type { DB } from '../../storage/schema.js'

/**
 * Sign-in nonces: single use, bound to one address, short-lived. The difficulty asked of a new
 * client at issue travels in the nonce (`<bits>x<random>`), so the proof is always over a nonce
 * the server chose.
 */
export async function issueChallenge(
  db: Kysely<DB>,
  nonce: string,
  address: Uint8Array,
  issuedAt: Date,
  expiresAt: Date,
): Promise<void> {
  // Expired challenges go at most once a second: a statement per challenge more was a good part
  // of what wallets arriving together cost the database (the garbage collector sweeps too).
  const last = lastPruned.get(db) ?? 0
  if (issuedAt.getTime() - last >= PRUNE_INTERVAL_MS || issuedAt.getTime() < last) {
    lastPruned.set(db, issuedAt.getTime())
    await db.deleteFrom('auth_challenges').where('expires_at', '<', issuedAt).execute()
  }
  await db.insertInto('auth_challenges').values({ nonce, address, expires_at: expiresAt }).execute()
}

const PRUNE_INTERVAL_MS = 1_000
const lastPruned = new WeakMap<Kysely<DB>, number>()

/** Whether `nonce` is live and was issued to `address`; does not use it up. */
export async function challengeIsLive(db: Kysely<DB>, nonce: string, address: Uint8Array): Promise<boolean> {
  const row = await db
    .selectFrom('auth_challenges')
    .select('address')
    .where('nonce', '=', nonce)
    .where('expires_at', '>', new Date())
    .executeTakeFirst()
  return row !== undefined && Buffer.compare(Buffer.from(row.address), Buffer.from(address)) === 0
}

/** Uses the nonce up; false if it was not live for `address` (already used by a concurrent sign-in). */
export async function consumeChallenge(db: Kysely<DB>, nonce: string, address: Uint8Array): Promise<boolean> {
  const row = await db
    .deleteFrom('auth_challenges')
    .where('nonce', '=', nonce)
    .where('address', '=', address)
    .where('expires_at', '>', new Date())
    .returning('nonce')
    .executeTakeFirst()
  return row !== undefined
}

/** The difficulty asked when the nonce was issued. */
export const askedBits = (nonce: string): number => Number(nonce.split('x')[0]) || 0
