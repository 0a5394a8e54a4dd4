import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/settings.js'
import { connectStorage } from '../service/connectStorage.js'

/** `wallet-backend migrate`: applies pending migrations to the configured database and exits. */
export async function runMigrate(config: Config, logger: Logger): Promise<number> {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new Error('the database did not answer within 60 s')),
    60_000,
  )
  try {
    const connection = await connectStorage({
      config,
      dataDir: resolve(config.dataDir),
      logger,
      signal: controller.signal,
      onWaiting: () => {},
    })
    await connection.storage.close()
    process.stderr.write(`migrations applied: ${connection.describe()} is up to date\n`)
    return 0
  } catch (error) {
    process.stderr.write(`wallet-backend migrate failed: ${(error as Error).message}\n`)
    return 1
  } finally {
    clearTimeout(timer)
  }
}
