import { chmodSync, mkdirSync, statSync } from 'node:fs'
import { BaseError } from '../errors/BaseError.js'

/** The data directory is readable or writable by other users: the service will not start on it. */
export class DataDirExposedError extends BaseError {
  override readonly name = 'DataDirExposedError'
  constructor(dir: string, mode: number) {
    super(
      'DATA_DIR_EXPOSED',
      `the data directory ${dir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); ` +
        `it holds the database, the admin token and wallet-state ciphertext. Run: chmod 700 ${dir}`,
      { details: { dir, mode } },
    )
  }
}

/**
 * Makes the data directory (mode 0700) or checks the one that is there. An existing directory that
 * other users can enter is refused rather than tightened: whatever was written into it while it was
 * open may already have been read or planted, and the operator must know that before it is used.
 */
export function prepareDataDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (created !== undefined) {
    // mkdir's mode is masked by the umask; a process embedding the service may have a loose one.
    chmodSync(dir, 0o700)
    return
  }
  const mode = statSync(dir).mode & 0o777
  if ((mode & 0o077) !== 0) throw new DataDirExposedError(dir, mode)
}
