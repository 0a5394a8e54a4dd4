import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import type { Logger } from 'pino'

/** The command line of a live process, or undefined when there is none (or it is a zombie). */
function commandLine(pid: number): string | undefined {
  try {
    process.kill(pid, 0)
  } catch {
    // EPERM: it exists but is not ours, so it is not an anvil we started.
    return undefined
  }
  if (process.platform === 'linux') {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return undefined
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
    } catch {
      return undefined
    }
  }
  if (process.platform === 'win32') return undefined
  try {
    return execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

async function exited(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  while (Date.now() < deadline) {
    if (commandLine(pid) === undefined) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return commandLine(pid) === undefined
}

/**
 * Stops an anvil that a previous run started on this data directory and that outlived it (the
 * backend was killed before it could stop its child). Left running, it would hold the chain in a
 * second copy and could later write its state over the new run's. The pid file only names a
 * candidate: the process is stopped only if its command line is anvil's and names `marker` (a file
 * of this data directory), so a recycled pid is never hit. SIGTERM first, so that it writes its state on the way out.
 */
export async function reapOrphanAnvil(
  pidFile: string,
  marker: string,
  options: { logger?: Logger | undefined; graceMs?: number } = {},
): Promise<void> {
  let pid: number
  try {
    pid = (JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number }).pid
  } catch {
    rmSync(pidFile, { force: true })
    return
  }
  const command = Number.isSafeInteger(pid) && pid > 0 ? commandLine(pid) : undefined
  if (command?.includes('anvil') && command.includes(marker)) {
    options.logger?.warn({ pid }, 'stopping an anvil left running by an earlier run on this data directory')
    process.kill(pid, 'SIGTERM')
    if (!(await exited(pid, options.graceMs ?? 10_000))) {
      process.kill(pid, 'SIGKILL')
      await exited(pid, 2_000)
    }
  }
  rmSync(pidFile, { force: true })
}
