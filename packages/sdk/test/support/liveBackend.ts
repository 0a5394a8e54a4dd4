import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { freePort } from '../../../server/src/chain/node/freePort.js'
import { startAnvil, type TestAnvil } from '../../../server/test/support/anvil.js'
import { type BackendProcess, backendProcess } from '../../../server/test/support/backendProcess.js'
import { WalletBackendClient } from '../../src/index.js'

export type LiveBackend = {
  anvil: TestAnvil
  /** The `wallet-backend start` process: kill, stop and start it again on the same port. */
  backend: BackendProcess
  /** The backend's data directory (its admin token is in `admin-token`). */
  dataDir: string
  /** A client with a fresh key, using the SDK's defaults (global fetch, WebSocket found by itself). */
  client(): WalletBackendClient
  /** Sends `wei` from a funded node account to `to` and waits for its receipt. */
  transfer(to: Hex, wei?: bigint): Promise<Hex>
  stop(): Promise<void>
}

/**
 * A real anvil and a real backend process following it, live before this resolves; `compiled` runs
 * the built CLI (bin/ and dist/) instead of the sources.
 */
export async function startLiveBackend(
  flags: string[] = [],
  options: { compiled?: boolean } = {},
): Promise<LiveBackend> {
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-sdk-'))
  const backend = backendProcess({
    dataDir,
    port: await freePort(),
    nodeUrl: anvil.node.wsUrl,
    flags: ['--poll-interval-ms', '50', '--registration-pow-bits', '8', '--start-block', '0', ...flags],
    // A new PGlite database takes seconds to create, many more on a loaded machine.
    readyTimeoutMs: 120_000,
    compiled: options.compiled ?? false,
  })
  await backend.start()
  const [funded] = await anvil.accounts()
  return {
    anvil,
    backend,
    dataDir,
    client: () =>
      new WalletBackendClient({ url: backend.url, account: privateKeyToAccount(generatePrivateKey()) }),
    transfer: async (to, wei = 1_000n) => {
      const hash = await anvil.rpc<Hex>('eth_sendTransaction', [
        { from: funded, to, value: `0x${wei.toString(16)}` },
      ])
      await anvil.rpc('eth_getTransactionReceipt', [hash])
      return hash
    },
    stop: async () => {
      await backend.stop()
      await anvil.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A fresh address with nothing at it: an interest in it matches only what the test sends it. */
export const freshAddress = (): Hex => privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex
