import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The admin token when none is configured: made once, kept in `<dataDir>/admin-token` (mode 0600),
 * so an operator on the machine can read it and no default secret ever exists.
 */
export function readOrCreateAdminToken(dataDir: string): string {
  const path = join(dataDir, 'admin-token')
  try {
    const token = readFileSync(path, 'utf8').trim()
    if (token.length >= 16) return token
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const token = randomBytes(32).toString('base64url')
  writeFileSync(path, `${token}\n`, { mode: 0o600 })
  return token
}
