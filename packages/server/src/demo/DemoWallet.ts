import { type Stream, WalletBackendClient } from '@wallet-backend/sdk'
import type { Logger } from 'pino'
import { type Hex, keccak256, stringToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { DemoContracts } from './demoContracts.js'
import { solveProofOfWorkInSlices } from './solveProofOfWorkInSlices.js'

/**
 * A simulated wallet: a client of the backend through the SDK, as a wallet app would be. It
 * signs in (with a client key derived from its number, so a restart of the demo finds the same
 * clients), follows its own on-chain address and one of the demo's contracts, and streams and
 * acknowledges what comes.
 */
export class DemoWallet {
  readonly client: WalletBackendClient
  #stream: Stream | undefined
  items = 0

  constructor(
    readonly index: number,
    readonly address: Hex,
    private readonly options: { url: string; logger: Logger },
  ) {
    const key = keccak256(stringToHex(`wallet-backend demo wallet ${index}`))
    this.client = new WalletBackendClient({
      url: options.url,
      account: privateKeyToAccount(key),
      solveProofOfWork: solveProofOfWorkInSlices,
    })
  }

  async start(contracts: DemoContracts): Promise<void> {
    await this.client.signIn()
    // An earlier start's contracts, if the chain was reset since, are followed no more.
    const wanted = this.index % 2 === 0 ? contracts.DemoToken : contracts.DemoCollectible
    for (const interest of await this.client.listInterests())
      if (interest.address.toLowerCase() !== wanted.address.toLowerCase())
        await this.client.deleteInterest(interest.address)
    await this.client.putInterest(wanted.address, {
      filters: [{ code: 'all', args: [] }],
      abi: wanted.abi as unknown[],
      ...(this.index === 0
        ? { watches: [{ kind: 'call', args: ['0x18160ddd'] }] } // totalSupply()
        : {}),
    })
    await this.client.putAccount(this.address, {})
    this.#stream = this.client.stream({
      onItem: (item) => {
        this.items += 1
        this.#stream?.ack(item.cursor)
      },
      onError: (error) => this.options.logger.debug({ err: error, wallet: this.index }, 'demo wallet stream'),
    })
  }

  stop(): void {
    this.#stream?.close()
  }
}
