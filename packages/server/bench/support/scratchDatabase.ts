import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { openStorage } from '../../src/storage/openStorage.js'

/** A new, empty PostgreSQL database on the server of `adminUrl`, for one benchmark run. */
export async function createScratchDatabase(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `wb_bench_${randomBytes(4).toString('hex')}`
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
