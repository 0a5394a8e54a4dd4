import { WalletBackendClient } from '@wallet-backend/sdk'
import type { LocalAccount } from 'viem'
import WebSocket from 'ws'
import type { SoakInterest } from '../observations.js'
import type { Random } from '../random.js'
import { dropSocket, Observer, SoakClientBase } from './SoakClient.js'
import { signInForToken } from './signInForToken.js'

/**
 * A client of the bare WebSocket protocol that does not trust its own memory: each reconnect
 * resumes after its last cursor, after its acknowledged cursor, or from 0 (a device that lost its
 * local state) — the server alone must keep acknowledged items from coming back.
 */
export class RawStreamClient extends SoakClientBase {
  #socket: WebSocket | undefined
  #stopped = false
  #token: string | undefined

  constructor(
    name: string,
    private readonly url: string,
    private readonly account: LocalAccount,
    interests: SoakInterest[],
    random: Random,
  ) {
    super(new Observer(name, interests), new WalletBackendClient({ url, account }), random)
  }

  start(): void {
    void this.#connect()
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return
    const observer = this.observer
    try {
      this.#token ??= await signInForToken(this.url, this.account)
    } catch {
      observer.stats.errors++
      this.#retry()
      return
    }
    const after = this.random.pick([observer.lastCursor, observer.lastCursor, observer.confirmedAck, 0])
    const via = `raw#${++observer.stats.connections} after=${after}`
    const socket = new WebSocket(
      `${this.url.replace(/^http/, 'ws')}/v1/stream?after=${after}&token=${this.#token}`,
    )
    this.#socket = socket
    socket.on('message', (data) => {
      const item = observer.frame(data.toString(), via)
      if (item && this.random.chance(0.3)) socket.send(JSON.stringify({ type: 'ack', cursor: item.cursor }))
    })
    socket.on('error', (error) => {
      observer.stats.errors++
      // A token the backend no longer knows: sign in again on the next attempt. (Listening to
      // 'unexpected-response' instead would leave the socket open, waiting to be aborted.)
      if (/Unexpected server response: 401/.test(error.message)) this.#token = undefined
    })
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined
      this.#retry()
    })
  }

  #retry(): void {
    if (!this.#stopped) setTimeout(() => void this.#connect(), this.random.int(50, 500))
  }

  disconnect(random: Random): void {
    dropSocket(this.#socket, random)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#socket?.terminate()
  }
}
