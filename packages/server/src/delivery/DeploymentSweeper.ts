import type { Logger } from 'pino'
import { type Hex, keccak256 } from 'viem'
import { getCanonicalHashes } from '../chain/follower/blockStore.js'
import type { BlockRef } from '../chain/follower/ChainListener.js'
import type { Follower } from '../chain/follower/Follower.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { DeliveryQueue } from './DeliveryQueue.js'
import type { Deployments } from './Deployments.js'

const BATCH = 200

/**
 * A contract deployed by a factory (CREATE2) appears in no receipt, and may emit no log: the only
 * sure sign is code at its address. Every `intervalMs`, the watched addresses still without code
 * are asked for it (eth_getCode at the stored head, in batches). For those that have some, the
 * block the code appeared at is searched for between the previous sweep's head (where none had
 * any) and this one, and recorded as their deployment — unless the follower (a creation, a log, the
 * contract-state watcher) recorded it first (docs/architecture.md, invariant 5).
 */
export class DeploymentSweeper {
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  /** The head of the previous sweep: no watched address still undeployed had code there. */
  #clearAt: number | undefined

  constructor(
    private readonly options: {
      node: NodeClient
      follower: Follower
      queue: DeliveryQueue
      deployments: Deployments
      logger: Logger
      intervalMs: number
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.sweep()
        .then(() => {})
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'deployment sweep failed'))
        .finally(() => {
          this.#running = undefined
        })
    }, this.options.intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running
  }

  /** One pass over the undeployed watched addresses; returns how many it recorded as deployed. */
  async sweep(): Promise<number> {
    const { follower, node, deployments } = this.options
    const head = follower.snapshot().head
    if (!head) return 0
    const addresses = deployments.watched()
    let found = 0
    for (let i = 0; i < addresses.length; i += BATCH) {
      const batch = addresses.slice(i, i + BATCH)
      const codes = await node.batch<Hex>(
        batch.map((address) => ({ method: 'eth_getCode', params: [address, hex(head.number)] })),
      )
      for (const [j, address] of batch.entries()) {
        const code = codes[j]
        if (!code?.ok || code.value === '0x') continue
        const at = await this.#firstBlockWithCode(address, this.#clearAt ?? head.number, head.number)
        if (await this.#record(address, at, head, keccak256(code.value))) found += 1
      }
    }
    this.#clearAt = head.number
    if (found > 0) this.options.logger.info({ found, head: head.number }, 'deployments found by code sweep')
    return found
  }

  /**
   * The first block in (`clear`, `withCode`] at which `address` has code, by bisection: a few
   * eth_getCode calls per deployment found. A node that no longer serves a block's state leaves
   * the later bound.
   */
  async #firstBlockWithCode(address: Hex, clear: number, withCode: number): Promise<number> {
    let low = clear
    let high = withCode
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2)
      const code = await this.options.node
        .request<Hex>('eth_getCode', [address, hex(mid)])
        .catch(() => undefined)
      if (code === undefined) return high
      if (code === '0x') low = mid
      else high = mid
    }
    return high
  }

  /** Records the deployment at block `number` of the stored chain (at `head` if that is gone). */
  async #record(address: Hex, number: number, head: BlockRef, codeHash: Hex): Promise<boolean> {
    const { follower, queue, deployments } = this.options
    // Between follow cycles: the stored chain and the undeployed set stay put while it is written.
    return follower.exclusive(() =>
      queue.transaction(async (writer) => {
        const hash = (await getCanonicalHashes(writer.trx, number, number)).get(number)
        const block = hash ? { number, hash } : head
        const items = await deployments.record(
          writer.trx,
          address,
          { block, txHash: null, txIndex: null },
          'code',
          codeHash,
        )
        if (!items) return false
        await writer.enqueue(items)
        return true
      }),
    )
  }
}

const hex = (n: number) => `0x${n.toString(16)}`
