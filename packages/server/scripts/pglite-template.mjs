// Part of the build: a migrated PGlite database, dumped to dist/pglite-template.tar.gz, that a
// first start copies instead of creating a database (see src/cli/seedPGlite.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrateToLatest } from '../dist/storage/migrateToLatest.js'
import { openStorage } from '../dist/storage/openStorage.js'

const dir = mkdtempSync(join(tmpdir(), 'wb-pglite-template-'))
try {
  const storage = await openStorage({ driver: 'pglite', dataDir: join(dir, 'db') })
  await migrateToLatest(storage)
  const dump = await storage.pglite.dumpDataDir('gzip')
  await storage.close()
  writeFileSync(
    new URL('../dist/pglite-template.tar.gz', import.meta.url),
    Buffer.from(await dump.arrayBuffer()),
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
