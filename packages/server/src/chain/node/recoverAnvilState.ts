import { rename, stat, unlink } from 'node:fs/promises'
import type { Logger } from 'pino'
import { BaseError } from '../../errors/BaseError.js'
import type { AnvilFiles } from './anvilFiles.js'
import { isCompleteJsonFile } from './isCompleteJsonFile.js'

/** The embedded node's state file is damaged: starting anyway would silently begin a new chain. */
export class AnvilStateError extends BaseError {
  override readonly name = 'AnvilStateError'
  readonly file: string

  constructor(file: string) {
    super(
      'ANVIL_STATE_INCOMPLETE',
      `The embedded node's state file ${file} is incomplete (cut off by a crash while it was being ` +
        'written). Restore a backup of it, or move it away to start a new chain.',
      { status: 503, details: {} },
    )
    this.file = file
  }
}

async function modifiedAt(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Picks the state the next anvil loads, and returns its path (undefined for a new chain).
 *
 * anvil writes its exit dump in place, so a crash during that write leaves a torn file. The dump
 * is therefore separate from the state file: a whole dump newer than the state becomes the state;
 * a torn one is set aside (`.torn`) and the state — written atomically by the backend — is used.
 */
export async function recoverAnvilState(files: AnvilFiles, logger?: Logger): Promise<string | undefined> {
  const dumpAt = await modifiedAt(files.exitDump)
  if (dumpAt !== undefined) {
    const stateAt = await modifiedAt(files.state)
    if (!(await isCompleteJsonFile(files.exitDump))) {
      await rename(files.exitDump, `${files.exitDump}.torn`)
      logger?.warn(
        { file: `${files.exitDump}.torn` },
        'anvil was stopped while writing its state; continuing from the last complete state',
      )
    } else if (stateAt === undefined || dumpAt >= stateAt) {
      await rename(files.exitDump, files.state)
    } else {
      await unlink(files.exitDump)
    }
  }
  if ((await modifiedAt(files.state)) === undefined) return undefined
  if (!(await isCompleteJsonFile(files.state))) throw new AnvilStateError(files.state)
  return files.state
}
