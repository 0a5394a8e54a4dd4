import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The migrated PGlite database the build keeps, found from wherever this module runs (sources, dist or bundle). */
export function pgliteTemplatePath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'wallet-backend') {
      const template = join(dir, 'dist', 'pglite-template.tar.gz')
      return existsSync(template) ? template : undefined
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * A first start on PGlite would create its database (seconds of initdb in WebAssembly, many more
 * on a busy machine) and then migrate it: a new data directory starts as a copy of the migrated
 * one the build made instead, and migrations newer than the build are applied as usual. The copy
 * is made beside and renamed into place, so a start killed meanwhile leaves no half database.
 * Returns whether it seeded.
 */
export async function seedPGlite(
  dataDir: string,
  template: string | null = pgliteTemplatePath() ?? null,
): Promise<boolean> {
  const target = join(dataDir, 'pglite')
  if (!template || (existsSync(target) && readdirSync(target).length > 0)) return false
  const seeding = `${target}.seeding`
  rmSync(seeding, { recursive: true, force: true })
  mkdirSync(seeding, { recursive: true, mode: 0o700 })
  const [{ PGlite }, { PrivateNodeFS }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('../storage/drivers/PrivateNodeFS.js'),
  ])
  // Its files are for this user only, like those of a database the service creates itself.
  const db = new PGlite({ fs: new PrivateNodeFS(seeding), loadDataDir: new Blob([readFileSync(template)]) })
  await db.waitReady
  await db.close()
  rmSync(target, { recursive: true, force: true })
  renameSync(seeding, target)
  return true
}
