import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { DB } from '../storage/schema.js'

/** The client an RPC key names, with what its requests are charged to. */
export type RpcKeyOwner = { clientId: Uint8Array; plan: string }

const KEY = /^rpk_[0-9a-f]{64}$/

/** Only the hash is stored: the database never holds a usable key. */
export const hashRpcKey = (key: string): Uint8Array => createHash('sha256').update(key).digest()

/** A new key for a client; the key itself is returned once and never stored. */
export async function createRpcKey(
  db: Kysely<DB>,
  clientId: Uint8Array,
): Promise<{ id: number; key: string }> {
  const key = `rpk_${randomBytes(32).toString('hex')}`
  const row = await db
    .insertInto('rpc_keys')
    .values({ client_id: clientId, key_hash: hashRpcKey(key) })
    .returning('id')
    .executeTakeFirstOrThrow()
  return { id: Number(row.id), key }
}

export async function listRpcKeys(
  db: Kysely<DB>,
  clientId: Uint8Array,
): Promise<{ id: number; createdAt: string }[]> {
  const rows = await db
    .selectFrom('rpc_keys')
    .select(['id', 'created_at'])
    .where('client_id', '=', clientId)
    .orderBy('id')
    .execute()
  return rows.map((row) => ({ id: Number(row.id), createdAt: new Date(row.created_at).toISOString() }))
}

/** Revokes a key of the client's; false when it has none by that id. */
export async function deleteRpcKey(db: Kysely<DB>, clientId: Uint8Array, id: number): Promise<boolean> {
  const result = await db
    .deleteFrom('rpc_keys')
    .where('id', '=', id)
    .where('client_id', '=', clientId)
    .executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** The active or dormant client a key belongs to, or undefined for an unknown or revoked key. */
export async function findRpcKeyOwner(db: Kysely<DB>, key: string): Promise<RpcKeyOwner | undefined> {
  if (!KEY.test(key)) return undefined
  const row = await db
    .selectFrom('rpc_keys as k')
    .innerJoin('clients as c', 'c.id', 'k.client_id')
    .select(['c.id', 'c.plan'])
    .where('k.key_hash', '=', hashRpcKey(key))
    .where('c.stage', '!=', 'pruned')
    .executeTakeFirst()
  return row ? { clientId: row.id, plan: row.plan } : undefined
}
