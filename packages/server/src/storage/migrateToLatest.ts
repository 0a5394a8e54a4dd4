import { Migrator } from 'kysely'
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
