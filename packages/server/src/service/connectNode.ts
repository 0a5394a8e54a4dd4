import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ensureChainId } from '../chain/node/ensureChainId.js'
import { type SpawnedAnvil, spawnAnvil } from '../chain/node/spawnAnvil.js'
import { RpcClient } from '../chain/rpc/RpcClient.js'
import { redactRpcUrl } from '../chain/rpc/redactRpcUrl.js'
import type { Config } from '../config/settings.js'
import { retryUntil } from './retryUntil.js'

export type NodeConnection = {
  rpc: RpcClient
  chainId: number
  /** The embedded anvil, when no node URL is configured. */
  anvil: SpawnedAnvil | undefined
  mode: 'embedded' | 'external'
  describe(): string
  close(): Promise<void>
}

/**
 * Connects to the configured nodes — or spawns the embedded anvil when there are none — and waits
 * until one answers. The chain id is pinned in the data directory at the first start; a node of
 * another chain is refused (fatal), a node that is merely down is waited for.
 */
export async function connectNode(options: {
  config: Config
  dataDir: string
  logger: Logger
  metrics: Registry
  signal: AbortSignal
  onWaiting: (reason: string) => void
}): Promise<NodeConnection> {
  const { config } = options
  let anvil: SpawnedAnvil | undefined
  let urls = config.nodeUrls
  if (urls.length === 0) {
    anvil = await spawnAnvil({
      dataDir: join(options.dataDir, 'anvil'),
      blockTimeSeconds: config.anvilBlockTimeSeconds,
      logger: options.logger,
    })
    urls = [anvil.wsUrl]
    options.logger.info({ url: anvil.httpUrl, pid: anvil.pid }, 'embedded anvil started')
  }
  const rpc = new RpcClient({
    urls,
    timeoutMs: config.rpcTimeoutMs,
    logger: options.logger,
    metrics: options.metrics,
  })
  const close = async () => {
    await rpc.close()
    await anvil?.stop()
  }
  try {
    const chainId = await retryUntil(async () => Number(await rpc.request<string>('eth_chainId', [])), {
      signal: options.signal,
      onFailure: (error, retryInMs) => {
        const reason = `waiting for the node: ${(error as Error).message}`
        options.logger.warn({ retryInMs }, reason)
        options.onWaiting(reason)
      },
    })
    const { pinned } = ensureChainId(options.dataDir, chainId)
    if (pinned) options.logger.info({ chainId }, 'data directory pinned to this chain')
    const where = anvil ? `embedded anvil at ${anvil.httpUrl}` : urls.map(redactRpcUrl).join(', ')
    return {
      rpc,
      chainId,
      anvil,
      mode: anvil ? 'embedded' : 'external',
      describe: () => `${where} (chain ${chainId})`,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}
