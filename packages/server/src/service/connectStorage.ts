import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/settings.js'
import { redactUrl } from '../config/settings.js'
import { migrateToLatest } from '../storage/migrateToLatest.js'
import { openStorage, type Storage } from '../storage/openStorage.js'
import { isStorageUnavailable } from '../storage/StorageUnavailableError.js'
import { retryUntil } from './retryUntil.js'

export type StorageConnection = {
  storage: Storage
  describe(): string
}

/**
 * Opens the configured database and applies pending migrations. A PostgreSQL server that is not
 * up yet is waited for (reported through `onWaiting`); anything else — a broken migration, an
 * unreadable data directory — is fatal.
 */
export async function connectStorage(options: {
  config: Config
  dataDir: string
  logger: Logger
  signal: AbortSignal
  onWaiting: (reason: string) => void
}): Promise<StorageConnection> {
  const { config } = options
  const describe = () =>
    config.databaseUrl
      ? `PostgreSQL at ${redactUrl(config.databaseUrl)}`
      : `embedded PGlite in ${join(options.dataDir, 'pglite')}`
  const storage = await retryUntil(
    async () => {
      const opened = config.databaseUrl
        ? await openStorage({
            driver: 'postgres',
            url: config.databaseUrl,
            poolSize: config.databasePoolSize,
          })
        : await openStorage({ driver: 'pglite', dataDir: join(options.dataDir, 'pglite') })
      try {
        await opened.ping()
        const applied = await migrateToLatest(opened)
        if (applied.length > 0) options.logger.info({ applied }, 'database migrations applied')
        return opened
      } catch (error) {
        await opened.close().catch(() => {})
        throw error
      }
    },
    {
      signal: options.signal,
      isFatal: (error) => !isStorageUnavailable(error),
      onFailure: (error, retryInMs) => {
        const reason = `waiting for the database (${describe()}): ${(error as Error).message}`
        options.logger.warn({ retryInMs }, reason)
        options.onWaiting(reason)
      },
    },
  )
  return { storage, describe }
}
