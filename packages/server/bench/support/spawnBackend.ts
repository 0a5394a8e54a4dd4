import { readFileSync } from 'node:fs'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { backendProcess } from '../../test/support/backendProcess.js'

export type SpawnedBackend = {
  url: string
  /** Resident memory of the backend process, from /proc (Linux). */
  rssBytes(): number
  stop(): Promise<void>
}

/**
 * The `wallet-backend start` CLI as a process of its own, ready (`/ready` 200) before it resolves;
 * `flags` must name `data-dir` and `node-url`.
 */
export async function spawnBackend(flags: Record<string, string>): Promise<SpawnedBackend> {
  const { 'data-dir': dataDir, 'node-url': nodeUrl, ...rest } = flags
  if (!dataDir || !nodeUrl) throw new Error('spawnBackend needs data-dir and node-url')
  const backend = backendProcess({
    dataDir,
    nodeUrl,
    port: await freePort(),
    flags: ['--log-level', 'warn', ...Object.entries(rest).flatMap(([flag, value]) => [`--${flag}`, value])],
    logFile: 'stderr',
    readyTimeoutMs: 60_000,
  })
  await backend.start()
  return {
    url: backend.url,
    rssBytes: () => {
      const status = readFileSync(`/proc/${backend.pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
    },
    stop: () => backend.stop(),
  }
}
