import { readFileSync } from 'node:fs'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { backendProcess } from '../../test/support/backendProcess.js'
import { onExit } from './onExit.js'

/** `getconf CLK_TCK` on Linux. */
const CLOCK_TICKS_PER_SECOND = 100

export type SpawnedBackend = {
  url: string
  /** Resident memory of the backend process, from /proc (Linux). */
  rssBytes(): number
  /** CPU time (user + system) the backend process used so far, from /proc (Linux). */
  cpuMs(): number
  stop(): Promise<void>
  /** Starts it again on the same data directory and port, ready before it resolves. */
  start(): Promise<void>
}

/**
 * The `wallet-backend start` CLI as a process of its own, ready (`/ready` 200) before it resolves;
 * `flags` must name `data-dir` and `node-url`. `nodeArgs` go to Node (e.g. `--cpu-prof`).
 */
export async function spawnBackend(
  flags: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<SpawnedBackend> {
  const { 'data-dir': dataDir, 'node-url': nodeUrl, ...rest } = flags
  if (!dataDir || !nodeUrl) throw new Error('spawnBackend needs data-dir and node-url')
  const backend = backendProcess({
    dataDir,
    nodeUrl,
    port: await freePort(),
    flags: ['--log-level', 'warn', ...Object.entries(rest).flatMap(([flag, value]) => [`--${flag}`, value])],
    logFile: 'stderr',
    // A new PGlite database takes seconds to create, many more on a loaded machine.
    readyTimeoutMs: 180_000,
    nodeArgs,
  })
  // Killed with this process whatever happens (a stop asked for first drains it).
  onExit(() => {
    if (backend.pid !== undefined && backend.running) process.kill(backend.pid, 'SIGKILL')
  })
  await backend.start()
  return {
    url: backend.url,
    rssBytes: () => {
      const status = readFileSync(`/proc/${backend.pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
    },
    cpuMs: () => {
      // Fields 14 and 15 of /proc/<pid>/stat, after the command name (which may hold spaces).
      const stat = readFileSync(`/proc/${backend.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
    },
    stop: () => backend.stop(),
    start: () => backend.start(),
  }
}
