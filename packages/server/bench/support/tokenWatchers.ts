import { WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'

/**
 * `count` new clients of the backend at `url`, each signed in and interested in the `Transfer`
 * logs of `token` — the wallet a benchmark simulates. Signed in 25 at a time.
 */
export async function tokenWatchers(
  url: string,
  token: `0x${string}`,
  count: number,
): Promise<WalletBackendClient[]> {
  const clients = Array.from(
    { length: count },
    () =>
      new WalletBackendClient({
        url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: WebSocket as never,
      }),
  )
  for (let i = 0; i < clients.length; i += 25) {
    await Promise.all(
      clients
        .slice(i, i + 25)
        .map((c) => c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })),
    )
  }
  return clients
}
