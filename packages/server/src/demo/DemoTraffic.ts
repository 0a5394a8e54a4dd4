import type { Logger } from 'pino'
import { encodeFunctionData, type Hex } from 'viem'
import { anvilRpc } from './anvilRpc.js'
import type { DemoContracts } from './demoContracts.js'

export type TrafficCounts = {
  transfers: number
  mints: number
  payments: number
  reorgs: number
  failures: number
}

/** Blocks a demo reorg replaces: shallow, as on a real chain, and above what anvil calls final. */
const REORG_DEPTH = 2
/** One reorg every this many rounds (about a minute at the default pace). */
const REORG_EVERY = 50

/**
 * Keeps the embedded chain busy like a small live network: token transfers between the demo's
 * wallets, collectibles minted to them, plain ether payments, and now and then a shallow reorg.
 * Every transaction is sent from an account anvil unlocked, one round at a time.
 */
export class DemoTraffic {
  readonly counts: TrafficCounts = { transfers: 0, mints: 0, payments: 0, reorgs: 0, failures: 0 }
  #round = 0
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  constructor(
    private readonly options: {
      url: string
      owner: Hex
      wallets: Hex[]
      contracts: DemoContracts
      intervalMs: number
      logger: Logger
    },
  ) {}

  start(): void {
    this.#schedule()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#running = this.#roundOnce()
        .catch((error: unknown) => {
          // The node restarting or the service draining: the next round tries again.
          this.counts.failures += 1
          this.options.logger.debug({ err: error }, 'demo traffic round failed')
        })
        .finally(() => this.#schedule())
    }, this.options.intervalMs)
  }

  async #roundOnce(): Promise<void> {
    const { url, owner, wallets, contracts } = this.options
    this.#round += 1
    const pick = () => wallets[Math.floor(Math.random() * wallets.length)]!
    const send = (tx: Record<string, unknown>) => anvilRpc<Hex>(url, 'eth_sendTransaction', [tx])
    const from = pick()
    let to = pick()
    while (to === from && wallets.length > 1) to = pick()
    const amount = BigInt(1 + Math.floor(Math.random() * 50)) * 10n ** 18n
    if (this.#round % 4 === 1) {
      // The owner mints to a wallet, so the wallets have tokens to send each other.
      await send({
        from: owner,
        to: contracts.DemoToken.address,
        data: encodeFunctionData({
          abi: contracts.DemoToken.abi,
          functionName: 'mint',
          args: [to, amount * 10n],
        }),
      })
      this.counts.mints += 1
    } else {
      await send({
        from,
        to: contracts.DemoToken.address,
        data: encodeFunctionData({
          abi: contracts.DemoToken.abi,
          functionName: 'transfer',
          args: [to, amount],
        }),
      })
      this.counts.transfers += 1
    }
    if (this.#round % 5 === 0) {
      await send({
        from: owner,
        to: contracts.DemoCollectible.address,
        data: encodeFunctionData({ abi: contracts.DemoCollectible.abi, functionName: 'mint', args: [to] }),
      })
      this.counts.mints += 1
    }
    if (this.#round % 3 === 0) {
      await send({ from, to, value: `0x${(10n ** 16n * BigInt(1 + (this.#round % 9))).toString(16)}` })
      this.counts.payments += 1
    }
    if (this.#round % REORG_EVERY === 0) {
      // The replaced blocks come back empty: their transactions leave the chain, the wallets'
      // items of them are withdrawn, and the follower's reorg handling shows in the console.
      await anvilRpc(url, 'anvil_reorg', [REORG_DEPTH, []])
      this.counts.reorgs += 1
      this.options.logger.info({ depth: REORG_DEPTH }, 'demo: reorged the embedded chain')
    }
  }
}
