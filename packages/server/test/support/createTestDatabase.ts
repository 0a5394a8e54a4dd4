import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { openStorage } from '../../src/storage/openStorage.js'

/**
 * A fresh PostgreSQL database on the server of `adminUrl` for a whole service under test (or a
 * benchmark run), dropped by the returned function.
 */
export async function createTestDatabase(
  adminUrl = process.env.TEST_DATABASE_URL,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set')
  const name = `wb_${randomBytes(6).toString('hex')}`
  const admin = await openStorage({ driver: 'postgres', url: adminUrl, poolSize: 1 })
  await sql.raw(`create database ${name}`).execute(admin.db)
  await admin.close()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = await openStorage({ driver: 'postgres', url: adminUrl, poolSize: 1 })
      await sql.raw(`drop database if exists ${name} with (force)`).execute(cleanup.db)
      await cleanup.close()
    },
  }
}
