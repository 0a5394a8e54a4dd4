import type { BackendProcess } from '../test/support/backendProcess.js'
import type { Random } from './random.js'

export type BackendChaosCounts = {
  kills: number
  /** Time from each restart until `/ready`, in ms. */
  recoveryMs: number[]
}

/** kill -9 of the backend process at a random moment, and its restart on the same data. */
export async function killAndRestart(
  backend: BackendProcess,
  random: Random,
  counts: BackendChaosCounts,
  log: (line: string) => void,
): Promise<void> {
  if (!backend.running) return
  await backend.kill()
  counts.kills++
  log(`backend killed (kill -9 number ${counts.kills})`)
  await new Promise((resolve) => setTimeout(resolve, random.int(0, 1_000)))
  const started = performance.now()
  await backend.start()
  const ms = Math.round(performance.now() - started)
  counts.recoveryMs.push(ms)
  log(`backend ready again after ${(ms / 1000).toFixed(1)} s`)
}
