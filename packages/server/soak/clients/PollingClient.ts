import { WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
import type { LocalAccount } from 'viem'
import type { SoakInterest } from '../observations.js'
import type { Random } from '../random.js'
import { Observer, SoakClientBase } from './SoakClient.js'

/**
 * A client that pages `GET /v1/deliveries` and acknowledges over HTTP, one request at a time — so
 * an item of a page asked for after an acknowledgement was confirmed must lie above it.
 */
export class PollingClient extends SoakClientBase {
  #position = 0
  #quietUntil = 0
  #stopped = false
  #loop: Promise<void> | undefined

  constructor(name: string, url: string, account: LocalAccount, interests: SoakInterest[], random: Random) {
    super(new Observer(name, interests), new WalletBackendClient({ url, account }), random)
  }

  start(): void {
    this.#loop = this.#run()
  }

  async #run(): Promise<void> {
    const observer = this.observer
    while (!this.#stopped) {
      const wait = Math.max(this.random.int(20, 150), this.#quietUntil - Date.now())
      await new Promise((resolve) => setTimeout(resolve, wait))
      try {
        const ackedBefore = observer.confirmedAck
        const page = await this.sdk.deliveries({ after: this.#position, limit: this.random.int(1, 50) })
        observer.stats.connections++
        for (const item of page.items) observer.item(item, `poll#${observer.stats.connections}`, ackedBefore)
        const last = page.items.at(-1)
        if (last) this.#position = last.cursor
        if (last && this.random.chance(0.5)) observer.acked((await this.sdk.ack(last.cursor)).acked)
      } catch (error) {
        observer.stats.errors++
        // A session the backend no longer knows: sign in again.
        if (error instanceof WalletBackendError && error.status === 401)
          await this.sdk.signIn().catch(() => {})
      }
    }
  }

  /** Makes no request for `ms` (a dormant client stays so until it is heard from again). */
  quiet(ms: number): void {
    this.#quietUntil = Math.max(this.#quietUntil, Date.now() + ms)
  }

  /** Goes quiet for a while, and may come back having forgotten where it was. */
  disconnect(random: Random): void {
    this.#quietUntil = Date.now() + random.int(200, 3_000)
    if (random.chance(0.3)) this.#position = random.pick([0, this.observer.confirmedAck])
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#loop
  }
}
