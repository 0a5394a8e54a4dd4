import { type Stream, WalletBackendClient, type WebSocketConstructor } from '@wallet-backend/sdk'
import type { LocalAccount } from 'viem'
import WebSocket from 'ws'
import type { SoakInterest } from '../observations.js'
import type { Random } from '../random.js'
import { dropSocket, Observer, SoakClientBase } from './SoakClient.js'

/**
 * The SDK drops repeats before its callback: the socket it is given records every frame first
 * (listeners added in the constructor run before the SDK's onmessage, which is set later).
 */
function recordingWebSocket(observer: Observer, current: { socket?: WebSocket }): WebSocketConstructor {
  class RecordingWebSocket extends WebSocket {
    constructor(address: string) {
      super(address)
      const via = `ws#${++observer.stats.connections}`
      current.socket = this
      this.on('message', (data) => observer.frame(data.toString(), via))
      this.on('error', () => {
        observer.stats.errors++
      })
    }
  }
  return RecordingWebSocket as unknown as WebSocketConstructor
}

/** A client as a wallet would be written: the SDK's self-resuming stream. */
export class SdkStreamClient extends SoakClientBase {
  readonly #current: { socket?: WebSocket }
  #stream: Stream | undefined

  constructor(name: string, url: string, account: LocalAccount, interests: SoakInterest[], random: Random) {
    const observer = new Observer(name, interests)
    const current: { socket?: WebSocket } = {}
    super(
      observer,
      new WalletBackendClient({ url, account, WebSocket: recordingWebSocket(observer, current) }),
      random,
    )
    this.#current = current
  }

  start(): void {
    this.#stream = this.sdk.stream({
      minReconnectMs: 100,
      maxReconnectMs: 1_000,
      onItem: (item) => {
        // Acknowledge now and then, over the stream mostly and sometimes over HTTP.
        if (!this.random.chance(0.3)) return
        if (this.random.chance(0.8)) this.#stream?.ack(item.cursor)
        else
          this.sdk.ack(item.cursor).then(
            ({ acked }) => this.observer.acked(acked),
            () => {
              this.observer.stats.errors++
            },
          )
      },
    })
  }

  disconnect(random: Random): void {
    dropSocket(this.#current.socket, random)
  }

  async stop(): Promise<void> {
    this.#stream?.close()
  }
}
