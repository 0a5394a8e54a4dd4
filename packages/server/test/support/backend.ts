import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { adminRequest } from './adminRequest.js'
import type { TestAnvil } from './anvil.js'

export type TestBackend = {
  service: Service
  dataDir: string
  /** A client with a fresh key (or `account`), not signed in yet. */
  client(account?: LocalAccount): WalletBackendClient
  /** Resolves once the backend has stored the node's head block. */
  synced(): Promise<void>
  /** Waits until the client has at least `n` items in all (some are queued in the background). */
  atLeast(client: WalletBackendClient, n: number): Promise<DeliveryItem[]>
  /** Every item of the client's queue after `after`, fetched page by page. */
  everything(client: WalletBackendClient, after?: number, pageSize?: number): Promise<DeliveryItem[]>
  /**
   * Stops the service, runs `whileDown`, and starts a new one on the same data directory (a clean
   * restart; it listens on a new port, so make new clients).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>
  /** A request to the admin API with the backend's admin token. */
  admin(method: string, path: string, body?: unknown): Promise<Response>
  stop(): Promise<void>
}

/**
 * A backend on a temporary data directory following `anvil` over WebSocket, live before it
 * resolves; `flags` are `wallet-backend start` flags that override the test defaults.
 */
export async function startBackend(
  anvil: TestAnvil,
  flags: Record<string, string | string[]> = {},
  options: { clock?: () => number } = {},
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
  const start = async () => {
    const started = await Service.start({
      config,
      ...(options.clock ? { clock: options.clock } : {}),
      logging: createLogger({ level: (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent' }),
    })
    await started.lifecycle.waitFor('live')
    return started
  }
  let service = await start()
  const everything = async (client: WalletBackendClient, after = 0, pageSize = 50) => {
    const items: DeliveryItem[] = []
    for (;;) {
      const page = await client.deliveries({ after, limit: pageSize })
      items.push(...page.items)
      if (page.items.length === 0) return items
      after = page.items.at(-1)!.cursor
    }
  }
  return {
    get service() {
      return service
    },
    dataDir,
    client: (account) =>
      new WalletBackendClient({
        url: service.url,
        account: account ?? privateKeyToAccount(generatePrivateKey()),
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
    everything,
    atLeast: async (client, n) => {
      const deadline = Date.now() + 15_000
      for (;;) {
        const items = await everything(client)
        if (items.length >= n || Date.now() > deadline) return items
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    restart: async (whileDown) => {
      await service.stop()
      await whileDown?.()
      service = await start()
    },
    admin: (method, path, body) => adminRequest(service.url, dataDir, method, path, body),
    stop: async () => {
      await service.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
