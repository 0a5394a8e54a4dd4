import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, inject } from 'vitest'
import { migrateToLatest } from '../../src/storage/migrateToLatest.js'
import { openStorage, type Storage } from '../../src/storage/openStorage.js'

export type TestDriver = 'pglite' | 'postgres'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL

/** The drivers this run can test: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export const TEST_DRIVERS: TestDriver[] = TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']

/** A migrated database of its own: a PGlite copy of the run's template, or a fresh PostgreSQL schema. */
export async function openTestStorage(driver: TestDriver): Promise<Storage> {
  if (driver === 'pglite') {
    const template = readFileSync(inject('pgliteTemplate'))
    return openStorage({ driver: 'pglite', loadDataDir: new Blob([template]) })
  }
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set')
  const schema = `t_${randomBytes(6).toString('hex')}`
  const admin = await openStorage({ driver: 'postgres', url: TEST_DATABASE_URL, poolSize: 1 })
  await sql.raw(`create schema ${schema}`).execute(admin.db)
  await admin.close()
  const storage = await openStorage({ driver: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 5 })
  await migrateToLatest(storage)
  const close = storage.close
  storage.close = async () => {
    await close()
    const cleanup = await openStorage({ driver: 'postgres', url: TEST_DATABASE_URL, poolSize: 1 })
    await sql.raw(`drop schema ${schema} cascade`).execute(cleanup.db)
    await cleanup.close()
  }
  return storage
}

/**
 * Runs the same suite on every driver. Without TEST_DATABASE_URL the PostgreSQL run is listed as
 * skipped, so a green run never hides that it tested one driver only.
 */
export function describeEachDriver(
  title: string,
  suite: (storage: () => Storage, driver: TestDriver) => void,
): void {
  for (const driver of ['pglite', 'postgres'] as const) {
    if (!TEST_DRIVERS.includes(driver)) {
      describe.skip(`${title} [postgres — skipped: TEST_DATABASE_URL is not set]`, () => {
        suite(() => {
          throw new Error('skipped')
        }, driver)
      })
      continue
    }
    describe(`${title} [${driver}]`, () => {
      let storage: Storage | undefined
      beforeAll(async () => {
        storage = await openTestStorage(driver)
      })
      afterAll(async () => {
        await storage?.close()
      })
      suite(() => {
        if (!storage) throw new Error('storage is not open yet')
        return storage
      }, driver)
    })
  }
}

export { createTestDatabase } from './createTestDatabase.js'
