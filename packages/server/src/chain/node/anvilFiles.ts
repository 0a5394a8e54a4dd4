import { join } from 'node:path'

/** Where the embedded anvil keeps its files inside its data directory. */
export type AnvilFiles = {
  /** The chain, loaded at start: written atomically by the backend (periodically and after a stop). */
  state: string
  /** What anvil itself writes when it exits; taken over as `state` at the next start if whole. */
  exitDump: string
  /** The running anvil's pid, to stop one that outlived a crashed backend. */
  pid: string
}

export function anvilFiles(dataDir: string): AnvilFiles {
  return {
    state: join(dataDir, 'state.json'),
    exitDump: join(dataDir, 'state.exit.json'),
    pid: join(dataDir, 'anvil.pid'),
  }
}
