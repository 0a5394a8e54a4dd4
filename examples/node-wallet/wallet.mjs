// A wallet in plain Node (20+): no TypeScript, no loader, only the two published packages.
import { WalletBackendClient, WalletStateSync } from '@wallet-backend/sdk'
import { currentState, deriveKeyFromSecret } from '@wallet-backend/wallet-state'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const url = process.env.WALLET_BACKEND_URL ?? 'http://127.0.0.1:8080'
const watched = process.env.WATCH_ADDRESS // the token (or any address) whose activity the wallet wants
const stopAfter = Number(process.env.STOP_AFTER_ITEMS ?? Number.POSITIVE_INFINITY)
const log = (event) => console.log(JSON.stringify(event))

// The client key names this installation to the backend (keep it); it holds no funds.
const account = privateKeyToAccount(process.env.CLIENT_KEY ?? generatePrivateKey())
const client = new WalletBackendClient({ url, account })
await client.signIn()
await client.putInterest(watched, { filters: [{ code: 'all', args: [] }] })

// Wallet state, end-to-end encrypted: every device of the wallet derives the same key.
const secret = new TextEncoder().encode(process.env.WALLET_SECRET ?? 'a secret of at least 16 bytes')
const state = new WalletStateSync(client, await deriveKeyFromSecret(secret))
await state.load()
state.edit('new_credential', { credentialId: `device-${process.env.DEVICE ?? 'node'}` })
await state.sync()
log({ event: 'ready', credentials: Object.keys(currentState(state.container).credentials).sort() })

let handled = 0
const stream = client.stream({
  onItem: async (item) => {
    // Proven against the block's header instead of trusted: receipt, log and transaction.
    const header = await client.verifyItem(item)
    log({
      event: 'item',
      kind: item.kind,
      cursor: item.cursor,
      txHash: item.txHash,
      verifiedBlock: header.hash,
    })
    stream.ack(item.cursor)
    handled += 1
  },
  onAcked: (cursor) => {
    log({ event: 'acked', cursor })
    if (handled >= stopAfter && cursor >= stream.lastCursor) stream.close()
  },
  onError: (error) => console.error(`stream: ${error.code} ${error.message}`),
})
