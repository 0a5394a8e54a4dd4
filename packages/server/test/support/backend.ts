import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import type { TestAnvil } from './anvil.js'

export type TestBackend = {
  service: Service
  dataDir: string
  /** A new client with a fresh key, not signed in yet. */
  client(): WalletBackendClient
  /** Resolves once the backend has stored the node's head block. */
  synced(): Promise<void>
  /** Every item of the client's queue after `after`, fetched page by page. */
  everything(client: WalletBackendClient, after?: number, pageSize?: number): Promise<DeliveryItem[]>
  stop(): Promise<void>
}

/**
 * A backend on a temporary data directory following `anvil` over WebSocket, live before it
 * resolves; `flags` are `wallet-backend start` flags that override the test defaults.
 */
export async function startBackend(
  anvil: TestAnvil,
  flags: Record<string, string | string[]> = {},
): Promise<TestBackend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-e2e-'))
  const config = loadConfig({
    flags: {
      port: '0',
      'data-dir': dataDir,
      'node-url': [anvil.node.wsUrl],
      'poll-interval-ms': '50',
      'registration-pow-bits': '8',
      'start-block': '0',
      ...flags,
    },
  })
  const service = await Service.start({
    config,
    logging: createLogger({ level: (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent' }),
  })
  await service.lifecycle.waitFor('live')
  return {
    service,
    dataDir,
    client: () =>
      new WalletBackendClient({
        url: service.url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: WebSocket as never,
      }),
    synced: async () => {
      const latest = await anvil.block('latest')
      const deadline = Date.now() + 20_000
      while (service.follower?.snapshot().head?.hash !== latest.hash) {
        if (Date.now() > deadline) throw new Error('backend did not reach the node head')
        service.follower?.poke()
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
    everything: async (client, after = 0, pageSize = 50) => {
      const items: DeliveryItem[] = []
      for (;;) {
        const page = await client.deliveries({ after, limit: pageSize })
        items.push(...page.items)
        if (page.items.length === 0) return items
        after = page.items.at(-1)!.cursor
      }
    },
    stop: async () => {
      await service.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
