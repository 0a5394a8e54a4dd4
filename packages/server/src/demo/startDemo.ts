import type { Logger } from 'pino'
import type { Hex } from 'viem'
import type { Service } from '../service/Service.js'
import { anvilRpc } from './anvilRpc.js'
import { DemoTraffic } from './DemoTraffic.js'
import { DemoWallet } from './DemoWallet.js'
import { deployDemoContracts } from './demoContracts.js'

/** Simulated wallets the demo signs in. */
const WALLETS = 4
/** Time between two rounds of traffic. */
const ROUND_MS = 1_200

export type Demo = { stop(): Promise<void> }

/**
 * `wallet-backend start --demo`: once the service is live on its embedded anvil, deploys the
 * demo's contracts, signs in a few simulated wallets through the SDK and keeps traffic going, so
 * that the operator console shows a service at work. Nothing of it runs without `--demo`.
 */
export function startDemo(options: {
  service: Service
  logger: Logger
  announce: (line: string) => void
}): Demo {
  const { service, announce } = options
  const logger = options.logger.child({ component: 'demo' })
  const abort = new AbortController()
  const wallets: DemoWallet[] = []
  let traffic: DemoTraffic | undefined
  const running = (async () => {
    await Promise.race([
      service.lifecycle.waitFor('live'),
      new Promise((resolve) => abort.signal.addEventListener('abort', resolve)),
    ])
    abort.signal.throwIfAborted()
    const anvil = service.node?.anvil
    if (!anvil) throw new Error('the demo runs on the embedded anvil only')
    const url = anvil.httpUrl
    const [owner, ...others] = await anvilRpc<Hex[]>(url, 'eth_accounts')
    if (!owner || others.length < WALLETS) throw new Error('anvil has too few unlocked accounts for the demo')
    const contracts = await deployDemoContracts({
      url,
      owner,
      dataDir: service.dataDir,
      signal: abort.signal,
    })
    announce(
      `demo: DemoToken (ERC-20) at ${contracts.DemoToken.address}, DemoCollectible (ERC-721) at ${contracts.DemoCollectible.address}${contracts.deployedNow ? '' : ' (from an earlier start)'}`,
    )
    for (let i = 0; i < WALLETS; i++)
      wallets.push(new DemoWallet(i, others[i]!, { url: service.url, logger }))
    traffic = new DemoTraffic({
      url,
      owner,
      wallets: wallets.map((w) => w.address),
      contracts,
      intervalMs: ROUND_MS,
      logger,
    })
    traffic.start()
    for (const wallet of wallets) {
      abort.signal.throwIfAborted()
      await wallet.start(contracts)
    }
    announce(
      `demo: ${WALLETS} wallets signed in and streaming; traffic every ${ROUND_MS} ms, a shallow reorg about every minute`,
    )
  })().catch((error: unknown) => {
    if (abort.signal.aborted) return
    logger.error({ err: error }, 'the demo stopped')
    announce(`demo stopped: ${(error as Error).message}`)
  })
  return {
    stop: async () => {
      abort.abort(new Error('stopping'))
      await running
      for (const wallet of wallets) wallet.stop()
      await traffic?.stop()
    },
  }
}
