import { Migrator, sql } from 'kysely'
import { migrationProvider } from './migrations/index.js'
import type { Storage } from './openStorage.js'

export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError'
}

/**
 * Applies every pending migration, in order, each in its own transaction. Safe to run from two
 * instances at once: Kysely holds an advisory lock while migrating. Returns the names applied.
 */
export async function migrateToLatest(storage: Storage): Promise<string[]> {
  if (await allApplied(storage)) return []
  const migrator = new Migrator({
    db: storage.db,
    provider: migrationProvider,
    // Kysely looks for its bookkeeping tables in every schema unless told which one is ours.
    ...(storage.schema ? { migrationTableSchema: storage.schema } : {}),
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName
    throw new MigrationFailedError(
      `migration ${failed ?? '?'} failed: ${(error as Error).message ?? error}`,
      {
        cause: error,
      },
    )
  }
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName)
}

/**
 * Whether every migration is recorded as applied: one query, where Kysely's migrator spends
 * several introspections of the catalog and a locked transaction (seconds on PGlite) to find
 * nothing to do. A database without the bookkeeping table is a new one.
 */
async function allApplied(storage: Storage): Promise<boolean> {
  const table = storage.schema
    ? sql.table(`${storage.schema}.kysely_migration`)
    : sql.table('kysely_migration')
  const applied = await sql<{ name: string }>`select name from ${table}`
    .execute(storage.db)
    .then(({ rows }) => new Set(rows.map((row) => row.name)))
    .catch(() => undefined)
  if (!applied) return false
  const known = Object.keys(await migrationProvider.getMigrations())
  return known.every((name) => applied.has(name))
}
