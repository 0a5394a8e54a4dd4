import WebSocket from 'ws'
import { RpcResponseError, RpcTimeoutError, RpcTransportError } from './errors.js'
import { redactRpcUrl } from './redactRpcUrl.js'
import {
  describeRequests,
  isJsonRpcResponse,
  type JsonRpcRequest,
  type JsonRpcResponse,
  jsonRpcRequest,
  type SendOptions,
  type Transport,
} from './transport.js'

export type WebSocketTransportOptions = {
  /** Upper bound for opening the connection (the call's own timeout applies when it is shorter). */
  connectTimeoutMs?: number
  /**
   * How often to ping the node. A connection that has not answered the previous ping is dropped:
   * a half-open TCP connection otherwise looks alive forever while no head arrives.
   */
  pingIntervalMs?: number
}

/** One live `eth_subscribe` on the current connection. */
export type SocketSubscription = {
  id: string
  unsubscribe(): Promise<void>
}

type Pending = {
  resolve: (response: JsonRpcResponse) => void
  reject: (error: Error) => void
  /** Runs as the answer is read, before any later message: a subscription is live from here on. */
  onAnswer?: (response: JsonRpcResponse) => void
}

type Listener = { onData: (data: unknown) => void; onLost: () => void }

/**
 * JSON-RPC over one WebSocket, opened on first use and again on the first use after it drops.
 * Subscriptions live on the connection that made them: when it drops, each is told (`onLost`) and
 * its owner subscribes again.
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'ws'
  readonly url: string
  readonly #endpoint: string
  readonly #connectTimeoutMs: number
  readonly #pingIntervalMs: number
  #socket: WebSocket | undefined
  #connecting: Promise<WebSocket> | undefined
  #closed = false
  readonly #pending = new Map<number, Pending>()
  readonly #listeners = new Map<string, Listener>()

  constructor(endpoint: string, options: WebSocketTransportOptions = {}) {
    this.#endpoint = endpoint
    this.url = redactRpcUrl(endpoint)
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000
    this.#pingIntervalMs = options.pingIntervalMs ?? 15_000
  }

  /** Whether a connection is open right now. */
  get connected(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN
  }

  send(requests: JsonRpcRequest[], options: SendOptions): Promise<JsonRpcResponse[]> {
    return this.#roundTrip(requests, options)
  }

  /**
   * `eth_subscribe` with `params` on the current connection. `onLost` runs once if the connection
   * drops; the subscription is gone then. A refusal by the node rejects with `RpcResponseError`.
   */
  async subscribe(
    params: unknown[],
    onData: (data: unknown) => void,
    onLost: () => void,
    options: SendOptions,
  ): Promise<SocketSubscription> {
    const request = jsonRpcRequest('eth_subscribe', params)
    const [response] = await this.#roundTrip([request], options, (answer) => {
      if (typeof answer.result === 'string') this.#listeners.set(answer.result, { onData, onLost })
    })
    if (response?.error) throw new RpcResponseError('eth_subscribe', response.error)
    if (typeof response?.result !== 'string') {
      throw new RpcTransportError(this.url, 'eth_subscribe answered without a subscription id')
    }
    const id = response.result
    const socket = this.#socket
    return {
      id,
      unsubscribe: async () => {
        if (!this.#listeners.delete(id) || this.#socket !== socket || !this.connected) return
        await this.#roundTrip([jsonRpcRequest('eth_unsubscribe', [id])], options).catch(() => {})
      },
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    const error = new RpcTransportError(this.url, 'transport closed')
    for (const pending of this.#pending.values()) pending.reject(error)
    this.#pending.clear()
    const socket = this.#socket ?? (await this.#connecting?.catch(() => undefined))
    this.#socket = undefined
    if (!socket) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate()
        resolve()
      }, 1_000)
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.close()
    })
  }

  async #roundTrip(
    requests: JsonRpcRequest[],
    options: SendOptions,
    onAnswer?: (response: JsonRpcResponse) => void,
  ): Promise<JsonRpcResponse[]> {
    const label = describeRequests(requests)
    const started = Date.now()
    const socket = await this.#connect(options)
    options.signal?.throwIfAborted()
    const remainingMs = options.timeoutMs - (Date.now() - started)
    if (remainingMs <= 0) throw new RpcTimeoutError(this.url, label, options.timeoutMs)
    let interrupt: (error: Error) => void = () => {}
    const answers = requests.map(
      (request) =>
        new Promise<JsonRpcResponse>((resolve, reject) => {
          this.#pending.set(request.id, { resolve, reject, ...(onAnswer ? { onAnswer } : {}) })
        }),
    )
    const interrupted = new Promise<never>((_, reject) => {
      interrupt = reject
    })
    const timer = setTimeout(
      () => interrupt(new RpcTimeoutError(this.url, label, options.timeoutMs)),
      remainingMs,
    )
    const onAbort = () => interrupt(options.signal?.reason as Error)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      socket.send(JSON.stringify(requests.length === 1 ? requests[0] : requests), (error) => {
        if (error) interrupt(new RpcTransportError(this.url, `sending failed: ${error.message}`))
      })
      return await Promise.race([Promise.all(answers), interrupted])
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      for (const request of requests) this.#pending.delete(request.id)
      // A rejected request leaves its answers' promises pending forever; nothing awaits them.
      for (const answer of answers) answer.catch(() => {})
      interrupted.catch(() => {})
    }
  }

  #connect(options: SendOptions): Promise<WebSocket> {
    if (this.#closed) return Promise.reject(new RpcTransportError(this.url, 'transport closed'))
    if (this.#socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.#socket)
    const timeoutMs = Math.min(options.timeoutMs, this.#connectTimeoutMs)
    this.#connecting ??= new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(this.#endpoint, {
        handshakeTimeout: timeoutMs,
        maxPayload: 512 * 1024 * 1024,
      })
      const fail = (error: Error) => {
        clearTimeout(timer)
        this.#connecting = undefined
        socket.removeAllListeners()
        socket.on('error', () => {})
        socket.terminate()
        reject(error)
      }
      const timer = setTimeout(() => fail(new RpcTimeoutError(this.url, 'connecting', timeoutMs)), timeoutMs)
      socket.once('error', (error: Error & { code?: string }) =>
        fail(new RpcTransportError(this.url, error.code ?? error.message, { cause: error })),
      )
      socket.once('open', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        this.#connecting = undefined
        if (this.#closed) {
          socket.terminate()
          reject(new RpcTransportError(this.url, 'transport closed'))
          return
        }
        this.#socket = socket
        this.#watch(socket)
        resolve(socket)
      })
    })
    return this.#connecting
  }

  #watch(socket: WebSocket): void {
    let answered = true
    const heartbeat = setInterval(() => {
      if (!answered) {
        socket.terminate()
        return
      }
      answered = false
      socket.ping()
    }, this.#pingIntervalMs)
    heartbeat.unref()
    socket.on('pong', () => {
      answered = true
    })
    socket.on('message', (data) => {
      answered = true
      this.#onMessage(data.toString())
    })
    // Errors end in 'close', which is where the connection is given up.
    socket.on('error', () => {})
    socket.once('close', (code, reason) => {
      clearInterval(heartbeat)
      this.#onClose(socket, `connection closed (${code}${reason.length > 0 ? ` ${reason}` : ''})`)
    })
  }

  #onMessage(text: string): void {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      return
    }
    for (const item of Array.isArray(message) ? message : [message]) {
      const notification = item as { method?: string; params?: { subscription?: string; result?: unknown } }
      if (notification.method === 'eth_subscription' && notification.params?.subscription) {
        this.#listeners.get(notification.params.subscription)?.onData(notification.params.result)
        continue
      }
      if (!isJsonRpcResponse(item)) continue
      const pending = this.#pending.get(item.id)
      if (!pending) continue
      pending.onAnswer?.(item)
      pending.resolve(item)
    }
  }

  #onClose(socket: WebSocket, reason: string): void {
    if (this.#socket !== socket) return
    this.#socket = undefined
    const error = new RpcTransportError(this.url, reason)
    for (const pending of this.#pending.values()) pending.reject(error)
    this.#pending.clear()
    const lost = [...this.#listeners.values()]
    this.#listeners.clear()
    for (const listener of lost) listener.onLost()
  }
}
