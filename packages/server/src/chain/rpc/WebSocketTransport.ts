import WebSocket from 'ws'
import { redactUrl } from '../../config/settings.js'
import { RpcTimeoutError, RpcTransportError } from './errors.js'
import type { JsonRpcRequest, JsonRpcResponse, Transport } from './transport.js'

type Pending = { resolve: (response: JsonRpcResponse) => void; reject: (error: Error) => void }
type Subscription = {
  params: unknown[]
  onData: (data: unknown) => void
  onResubscribed: () => void
  id?: string
}

const CONNECT_TIMEOUT_MS = 5_000

/**
 * JSON-RPC over one WebSocket, connected on first use and again after it drops. Subscriptions
 * survive a reconnect: they are renewed on the new socket and told so, because whatever the node
 * pushed in between was lost.
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'ws'
  readonly url: string
  readonly #endpoint: string
  #socket: WebSocket | undefined
  #connecting: Promise<WebSocket> | undefined
  #closed = false
  #nextId = 1_000_000_000
  readonly #pending = new Map<number, Pending>()
  readonly #subscriptions = new Set<Subscription>()
  #reconnectTimer: NodeJS.Timeout | undefined
  #reconnectDelayMs = 250

  constructor(endpoint: string) {
    this.#endpoint = endpoint
    this.url = redactUrl(endpoint)
  }

  async send(requests: JsonRpcRequest[], timeoutMs: number): Promise<JsonRpcResponse[]> {
    const label = requests.length === 1 ? requests[0]!.method : `batch of ${requests.length}`
    const socket = await this.#connect(Math.min(timeoutMs, CONNECT_TIMEOUT_MS))
    const waiting = requests.map(
      (request) =>
        new Promise<JsonRpcResponse>((resolve, reject) => this.#pending.set(request.id, { resolve, reject })),
    )
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RpcTimeoutError(this.url, label, timeoutMs)), timeoutMs)
    })
    try {
      socket.send(JSON.stringify(requests.length === 1 ? requests[0] : requests))
      return await Promise.race([Promise.all(waiting), timeout])
    } finally {
      clearTimeout(timer)
      for (const request of requests) this.#pending.delete(request.id)
    }
  }

  /** eth_subscribe on this socket; `onResubscribed` runs after a reconnect renewed it. */
  async subscribe(
    params: unknown[],
    onData: (data: unknown) => void,
    onResubscribed: () => void,
    timeoutMs: number,
  ): Promise<() => Promise<void>> {
    const subscription: Subscription = { params, onData, onResubscribed }
    await this.#subscribe(subscription, timeoutMs)
    this.#subscriptions.add(subscription)
    return async () => {
      this.#subscriptions.delete(subscription)
      if (subscription.id && this.#socket?.readyState === WebSocket.OPEN) {
        await this.send([this.#request('eth_unsubscribe', [subscription.id])], timeoutMs).catch(() => {})
      }
    }
  }

  async #subscribe(subscription: Subscription, timeoutMs: number): Promise<void> {
    const [response] = await this.send([this.#request('eth_subscribe', subscription.params)], timeoutMs)
    if (!response || response.error) {
      throw new RpcTransportError(
        this.url,
        `eth_subscribe refused: ${response?.error?.message ?? 'no answer'}`,
      )
    }
    subscription.id = response.result as string
  }

  #request(method: string, params: unknown[]): JsonRpcRequest {
    return { jsonrpc: '2.0', id: this.#nextId++, method, params }
  }

  #connect(timeoutMs: number): Promise<WebSocket> {
    if (this.#closed) return Promise.reject(new RpcTransportError(this.url, 'transport closed'))
    if (this.#socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.#socket)
    this.#connecting ??= new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(this.#endpoint, {
        handshakeTimeout: timeoutMs,
        maxPayload: 256 * 1024 * 1024,
      })
      const fail = (error: Error) => {
        this.#connecting = undefined
        socket.removeAllListeners()
        socket.on('error', () => {})
        socket.terminate()
        reject(new RpcTransportError(this.url, (error as { code?: string }).code ?? error.message, error))
      }
      socket.once('error', fail)
      socket.once('open', () => {
        socket.off('error', fail)
        this.#socket = socket
        this.#connecting = undefined
        this.#reconnectDelayMs = 250
        socket.on('message', (data) => this.#onMessage(data.toString()))
        socket.on('error', () => {})
        socket.on('close', () => this.#onClose(socket))
        resolve(socket)
      })
    })
    return this.#connecting
  }

  #onMessage(text: string): void {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return
    }
    for (const item of Array.isArray(message) ? message : [message]) {
      const response = item as JsonRpcResponse & {
        method?: string
        params?: { subscription: string; result: unknown }
      }
      if (response.method === 'eth_subscription' && response.params) {
        for (const subscription of this.#subscriptions) {
          if (subscription.id === response.params.subscription) subscription.onData(response.params.result)
        }
        continue
      }
      this.#pending.get(response.id)?.resolve(response)
    }
  }

  #onClose(socket: WebSocket): void {
    if (this.#socket === socket) this.#socket = undefined
    for (const pending of this.#pending.values())
      pending.reject(new RpcTransportError(this.url, 'connection closed'))
    this.#pending.clear()
    if (!this.#closed && this.#subscriptions.size > 0) this.#scheduleReconnect()
  }

  /** Only subscriptions need the socket back unasked; plain requests reconnect on their own. */
  #scheduleReconnect(): void {
    if (this.#reconnectTimer) return
    this.#reconnectTimer = setTimeout(async () => {
      this.#reconnectTimer = undefined
      try {
        for (const subscription of this.#subscriptions) {
          await this.#subscribe(subscription, CONNECT_TIMEOUT_MS)
          subscription.onResubscribed()
        }
      } catch {
        this.#reconnectDelayMs = Math.min(this.#reconnectDelayMs * 2, 10_000)
        this.#scheduleReconnect()
      }
    }, this.#reconnectDelayMs)
    this.#reconnectTimer.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#reconnectTimer)
    this.#subscriptions.clear()
    const socket = this.#socket
    this.#socket = undefined
    if (socket) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve())
        socket.close()
        setTimeout(() => {
          socket.terminate()
          resolve()
        }, 1000).unref()
      })
    }
  }
}
