import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { DB } from '../storage/schema.js'

/** The ETag of a wallet state: SHA-256 of exactly the stored bytes (docs/architecture.md, invariant 6). */
export function etagOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export type StoredWalletState = { etag: string; version: number; data: Uint8Array; updatedAt: Date }

export async function readWalletState(
  db: Kysely<DB>,
  clientId: Uint8Array,
): Promise<StoredWalletState | undefined> {
  const row = await db
    .selectFrom('wallet_states')
    .select(['etag', 'version', 'data', 'updated_at'])
    .where('client_id', '=', clientId)
    .executeTakeFirst()
  return row ? { etag: row.etag, version: row.version, data: row.data, updatedAt: row.updated_at } : undefined
}

export type WriteResult =
  | { outcome: 'written'; etag: string; version: number; created: boolean }
  | { outcome: 'unchanged'; etag: string; version: number }
  | { outcome: 'conflict'; current: { etag: string; version: number } | undefined }

/**
 * Compare-and-set in one statement, so that of N writers holding the same ETag exactly one wins,
 * on either driver: the update only matches the row while it still has the expected ETag, the
 * insert of a first version only when there is no row. Sending the bytes already stored succeeds
 * (a retry of a write whose answer was lost). The last `keep` versions stay for recovery.
 */
export async function writeWalletState(
  db: Kysely<DB>,
  clientId: Uint8Array,
  data: Uint8Array,
  expected: { etag: string } | { absent: true },
  keep: number,
): Promise<WriteResult> {
  const etag = etagOf(data)
  return db.transaction().execute(async (trx) => {
    const row =
      'absent' in expected
        ? await trx
            .insertInto('wallet_states')
            .values({ client_id: clientId, version: 1, etag, data })
            .onConflict((oc) => oc.doNothing())
            .returning(['version'])
            .executeTakeFirst()
        : await trx
            .updateTable('wallet_states')
            .set((eb) => ({ data, etag, version: eb('version', '+', 1), updated_at: new Date() }))
            .where('client_id', '=', clientId)
            .where('etag', '=', expected.etag)
            .returning(['version'])
            .executeTakeFirst()
    if (!row) {
      const current = await trx
        .selectFrom('wallet_states')
        .select(['etag', 'version'])
        .where('client_id', '=', clientId)
        .executeTakeFirst()
      if (current?.etag === etag) return { outcome: 'unchanged', etag, version: current.version }
      return { outcome: 'conflict', current }
    }
    await trx
      .insertInto('wallet_state_versions')
      .values({ client_id: clientId, version: row.version, etag, data })
      .execute()
    await trx
      .deleteFrom('wallet_state_versions')
      .where('client_id', '=', clientId)
      .where('version', '<=', row.version - 1 - keep)
      .execute()
    return { outcome: 'written', etag, version: row.version, created: 'absent' in expected }
  })
}

export async function listWalletStateVersions(db: Kysely<DB>, clientId: Uint8Array) {
  const rows = await db
    .selectFrom('wallet_state_versions')
    .select(['version', 'etag', 'created_at', (eb) => eb.fn<number>('octet_length', ['data']).as('bytes')])
    .where('client_id', '=', clientId)
    .orderBy('version', 'desc')
    .execute()
  return rows.map((row) => ({
    version: row.version,
    etag: row.etag,
    bytes: Number(row.bytes),
    createdAt: row.created_at.toISOString(),
  }))
}

export async function readWalletStateVersion(db: Kysely<DB>, clientId: Uint8Array, version: number) {
  return db
    .selectFrom('wallet_state_versions')
    .select(['etag', 'data'])
    .where('client_id', '=', clientId)
    .where('version', '=', version)
    .executeTakeFirst()
}
