import type { TestAnvil } from '../test/support/anvil.js'
import type { BackendProcess } from '../test/support/backendProcess.js'
import { type BackendChaosCounts, killAndRestart } from './backendChaos.js'
import { type TrafficCounts, type TrafficPlan, trafficStep } from './chainTraffic.js'
import type { SoakClient } from './clients/SoakClient.js'
import type { NodeChaos } from './nodeChaos.js'
import type { Random } from './random.js'
import { SerialLock } from './SerialLock.js'

/** Mean time between events of each kind, in ms. */
export type ChaosRates = {
  backendKill: number
  nodeRestart: number
  reorg: number
  disconnect: number
  traffic: number
  /** A transaction sent through the backend's `POST /v1/transactions`. */
  submit: number
  /** A client made dormant through the admin API. */
  dormancy: number
}

/** What the events act on, and where they are counted. */
export type ChaosTargets = {
  anvil: TestAnvil
  /** The instances; a kill picks one at random. */
  backends: readonly BackendProcess[]
  plan: TrafficPlan
  clients: readonly SoakClient[]
  node: NodeChaos
  traffic: TrafficCounts
  backendCounts: BackendChaosCounts
  /**
   * Sends one transaction through the backend; not under the chain's lock, which a backend slow to
   * answer would hold up (the node going away meanwhile is one of the things the run is about).
   */
  submit: (random: Random) => Promise<void>
  makeDormant: (random: Random) => Promise<void>
}

/** When the loops stop: at the end of the run, or at once when one of them fails. */
type Deadline = { end: number }

/** Runs `step` again and again, `delay()` ms apart, until the deadline; an error ends every loop. */
async function repeat(
  deadline: Deadline,
  delay: () => number,
  step: () => Promise<void> | void,
): Promise<void> {
  for (;;) {
    // Short naps, so that a deadline moved forward by a failure is seen soon.
    const wake = Date.now() + delay()
    while (Date.now() < Math.min(wake, deadline.end)) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(250, Math.min(wake, deadline.end) - Date.now())),
      )
    }
    if (Date.now() >= deadline.end) return
    try {
      await step()
    } catch (error) {
      deadline.end = 0
      throw error
    }
  }
}

/**
 * Traffic, submissions, dormancy and the four kinds of fault, each on its own random schedule, for `seconds`; returns
 * the number of client disconnects. Each kind draws from its own generator, so that one kind's
 * draws do not shift another's. A step under way at the end is finished; a step that fails stops
 * every loop, and the error is thrown once all have stopped.
 */
export async function runChaos(
  targets: ChaosTargets,
  rates: ChaosRates,
  seconds: number,
  random: Random,
  log: (line: string) => void,
): Promise<number> {
  const { anvil, backends, plan, clients, node, traffic, backendCounts, submit, makeDormant } = targets
  const lock = new SerialLock()
  const started = Date.now()
  const say = (line: string) => log(`soak: +${((Date.now() - started) / 1000).toFixed(1)} s ${line}`)
  const end: Deadline = { end: Date.now() + seconds * 1000 }
  const [
    trafficRandom,
    reorgRandom,
    restartRandom,
    killRandom,
    disconnectRandom,
    submitRandom,
    dormancyRandom,
  ] = ['traffic', 'reorg', 'node-restart', 'backend-kill', 'disconnect', 'submit', 'dormancy'].map((label) =>
    random.fork(label),
  ) as [Random, Random, Random, Random, Random, Random, Random]
  let disconnects = 0
  const loops = await Promise.allSettled([
    repeat(
      end,
      () => trafficRandom.delayMs(rates.traffic),
      () => lock.run(() => trafficStep(anvil, plan, trafficRandom, traffic)),
    ),
    repeat(
      end,
      () => reorgRandom.delayMs(rates.reorg),
      () => lock.run(() => node.reorg(reorgRandom)),
    ),
    repeat(
      end,
      () => restartRandom.delayMs(rates.nodeRestart),
      () => lock.run(async () => say(`node restarted (${await node.restart(restartRandom)})`)),
    ),
    repeat(
      end,
      () => killRandom.delayMs(rates.backendKill),
      () => killAndRestart(killRandom.pick(backends), killRandom, backendCounts, say),
    ),
    repeat(
      end,
      () => disconnectRandom.delayMs(rates.disconnect),
      () => {
        disconnectRandom.pick(clients).disconnect(disconnectRandom)
        disconnects++
      },
    ),
    repeat(
      end,
      () => submitRandom.delayMs(rates.submit),
      () => submit(submitRandom),
    ),
    repeat(
      end,
      () => dormancyRandom.delayMs(rates.dormancy),
      () => makeDormant(dormancyRandom),
    ),
  ])
  // Every loop has stopped before anything is torn down: none acts on a node or backend being cleaned up.
  const failed = loops.find((loop) => loop.status === 'rejected')
  if (failed) throw failed.reason
  return disconnects
}
