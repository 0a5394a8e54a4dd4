import type { TestAnvil } from '../test/support/anvil.js'
import { type TrafficCounts, type TrafficPlan, trafficRequest, trafficStep } from './chainTraffic.js'
import type { Random } from './random.js'

/** anvil's `finalized` tag trails the head by 64 blocks: deeper reorgs would rewrite final blocks. */
export const MAX_REORG_DEPTH = 64

export const DEPTH_BUCKETS = ['1', '2-3', '4-16', '17-32', '33-64'] as const
export type DepthBucket = (typeof DEPTH_BUCKETS)[number]

export type NodeChaosCounts = {
  crashRestarts: number
  gracefulRestarts: number
  /** Blocks mined after the node's last state save and lost when it was killed. */
  blocksLost: number
  reorgs: Record<DepthBucket, number>
  /** Transactions placed in the replacement blocks of reorgs. */
  reorgTransfers: number
  /** Reorgs not made: too few blocks since the floor (the node's restart or the start of traffic). */
  reorgsSkipped: number
}

export function emptyNodeChaosCounts(): NodeChaosCounts {
  return {
    crashRestarts: 0,
    gracefulRestarts: 0,
    blocksLost: 0,
    reorgs: Object.fromEntries(DEPTH_BUCKETS.map((bucket) => [bucket, 0])) as Record<DepthBucket, number>,
    reorgTransfers: 0,
    reorgsSkipped: 0,
  }
}

function bucketOf(depth: number): DepthBucket {
  if (depth === 1) return '1'
  if (depth <= 3) return '2-3'
  if (depth <= 16) return '4-16'
  if (depth <= 32) return '17-32'
  return '33-64'
}

/** Shallow reorgs are the common case on a real chain; deep ones still come up. */
function drawDepth(random: Random): number {
  const roll = random.next()
  if (roll < 0.35) return 1
  if (roll < 0.55) return random.int(2, 3)
  if (roll < 0.8) return random.int(4, 16)
  if (roll < 0.9) return random.int(17, 32)
  return random.int(33, MAX_REORG_DEPTH)
}

/**
 * The chain events: reorgs and node restarts. anvil can only rebuild blocks whose parent state it
 * holds, which after a restart (without historical states) means blocks mined since; `floor` is
 * the lowest block a reorg may keep as its base.
 */
export class NodeChaos {
  readonly counts = emptyNodeChaosCounts()
  /** What the reorgs' transactions are made of; `reorgTransfers` reports how many there were. */
  readonly #placed: TrafficCounts = { transfers: 0, storeWrites: 0, emptyBlocks: 0, failedSteps: 0 }
  #floor: number

  constructor(
    private readonly anvil: TestAnvil,
    private readonly plan: TrafficPlan,
    private readonly traffic: TrafficCounts,
    floor: number,
  ) {
    this.#floor = floor
  }

  /** Replaces the last 1 to 64 blocks, the new ones holding a few transactions of their own. */
  async reorg(random: Random): Promise<void> {
    const wanted = drawDepth(random)
    const height = await this.anvil.blockNumber()
    const depth = Math.min(wanted, height - this.#floor)
    if (depth < 1) {
      this.counts.reorgsSkipped++
      return
    }
    const txs = Array.from({ length: random.int(0, 3) }, () => [
      trafficRequest(this.plan, random, this.#placed),
      random.int(0, depth - 1),
    ])
    await this.anvil.rpc('anvil_reorg', [depth, txs])
    this.counts.reorgs[bucketOf(depth)]++
    this.counts.reorgTransfers += txs.length
  }

  /**
   * A graceful restart (the node saves its state on the way out) or a crash: the state is saved,
   * a few more blocks are mined, and the node is killed — those blocks are gone when it comes
   * back, which the backend sees as a reorg. The blocks lost stay fewer than the 64 to finality.
   */
  async restart(random: Random): Promise<'graceful' | 'kill -9'> {
    if (random.chance(0.5)) {
      await this.anvil.restart()
      this.counts.gracefulRestarts++
      this.#floor = await this.anvil.blockNumber()
      return 'graceful'
    }
    // Read before the save: submissions through the backend mine blocks outside the chaos lock, so
    // a block read after the save may be one the save does not hold.
    const saved = await this.anvil.blockNumber()
    await this.anvil.node.saveState()
    const steps = random.int(0, 4)
    for (let i = 0; i < steps; i++) await trafficStep(this.anvil, this.plan, random, this.traffic)
    const before = await this.anvil.blockNumber()
    await this.anvil.kill()
    await new Promise((resolve) => setTimeout(resolve, random.int(0, 1_500)))
    await this.anvil.restart()
    const after = await this.anvil.blockNumber()
    if (after < saved) throw new Error(`the node came back at block ${after}, below its saved ${saved}`)
    this.counts.blocksLost += before - after
    this.counts.crashRestarts++
    this.#floor = after
    return 'kill -9'
  }
}
