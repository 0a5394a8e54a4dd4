import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../src/chain/node/spawnAnvil.js'

const bin = fileURLToPath(new URL('../../bin/wallet-backend.mjs', import.meta.url))

export type SpawnedBackend = {
  url: string
  child: ChildProcess
  /** Resident memory of the backend process, from /proc (Linux). */
  rssBytes(): number
  stop(): Promise<void>
}

/** The `wallet-backend start` CLI as a process of its own, ready (`/ready` 200) before it resolves. */
export async function spawnBackend(flags: Record<string, string>): Promise<SpawnedBackend> {
  const port = await freePort()
  const args = [bin, 'start', '--port', String(port), '--log-level', 'warn']
  for (const [flag, value] of Object.entries(flags)) args.push(`--${flag}`, value)
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    const ready = await fetch(`${url}/ready`).catch(() => undefined)
    if (ready?.status === 200) break
    if (child.exitCode !== null) throw new Error(`the backend exited with code ${child.exitCode}`)
    if (Date.now() > deadline) throw new Error('the backend did not become ready within 60 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    child,
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
    },
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
