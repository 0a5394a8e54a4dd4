import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { seedPGlite } from '../../src/cli/seedPGlite.js'
import { migrateToLatest } from '../../src/storage/migrateToLatest.js'
import { openStorage } from '../../src/storage/openStorage.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('seedPGlite', () => {
  it('starts a new data directory as a copy of the migrated template, and leaves an existing one alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-seed-'))
    dirs.push(dataDir)
    // The test run's migrated template stands in for the build's.
    expect(await seedPGlite(dataDir, inject('pgliteTemplate'))).toBe(true)
    const storage = await openStorage({ driver: 'pglite', dataDir: join(dataDir, 'pglite') })
    try {
      expect(await migrateToLatest(storage)).toEqual([])
      await storage.db.insertInto('service_state').values({ key: 'kept', value: '{"v":1}' }).execute()
    } finally {
      await storage.close()
    }
    expect(await seedPGlite(dataDir, inject('pgliteTemplate'))).toBe(false)
    const reopened = await openStorage({ driver: 'pglite', dataDir: join(dataDir, 'pglite') })
    try {
      const row = await reopened.db
        .selectFrom('service_state')
        .selectAll()
        .where('key', '=', 'kept')
        .executeTakeFirst()
      expect(row?.value).toEqual({ v: 1 })
    } finally {
      await reopened.close()
    }
  })

  it('does nothing without a template', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-seed-'))
    dirs.push(dataDir)
    expect(await seedPGlite(dataDir, null)).toBe(false)
  })
})
