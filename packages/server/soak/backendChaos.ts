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
): Promise<void> {
  if (!backend.running) return
  await backend.kill()
  counts.kills++
  await new Promise((resolve) => setTimeout(resolve, random.int(0, 1_000)))
  const started = performance.now()
  await backend.start()
  counts.recoveryMs.push(Math.round(performance.now() - started))
}
