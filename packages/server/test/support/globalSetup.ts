import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { migrateToLatest } from '../../src/storage/migrateToLatest.js'
import { openStorage } from '../../src/storage/openStorage.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string
  }
}

/**
 * Creating a PGlite database costs seconds; loading a dump of one costs a fraction. One migrated
 * database is made per run and every test opens its own copy from the dump.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-template-'))
  const storage = await openStorage({ driver: 'pglite', dataDir: join(dir, 'db') })
  await migrateToLatest(storage)
  const dump = await storage.pglite!.dumpDataDir('none')
  await storage.close()
  const path = join(dir, 'template.tar')
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()))
  project.provide('pgliteTemplate', path)
  return () => rmSync(dir, { recursive: true, force: true })
}
