import { type Logger, pino } from 'pino'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import type { NodeClient, RpcBatchResult, RpcCall } from '../NodeClient.js'
import {
  isTransportFailure,
  NodeUnavailableError,
  RpcChainMismatchError,
  type RpcEndpointError,
  RpcResponseError,
  RpcTimeoutError,
  RpcTransportError,
  SubscriptionsUnsupportedError,
} from './errors.js'
import { HttpTransport } from './HttpTransport.js'
import { type RpcMetrics, type RpcOutcome, rpcMetrics } from './rpcMetrics.js'
import {
  describeRequests,
  type JsonRpcRequest,
  type JsonRpcResponse,
  jsonRpcRequest,
  type Transport,
} from './transport.js'
import {
  type SocketSubscription,
  WebSocketTransport,
  type WebSocketTransportOptions,
} from './WebSocketTransport.js'

export type RpcClientOptions = {
  /** Endpoints in priority order, each `http(s)://` or `ws(s)://`. */
  urls: string[]
  /** Timeout of one call on one endpoint, unless the call says otherwise. Default 10 s. */
  timeoutMs?: number
  /**
   * The chain every endpoint must serve. Without it, the first endpoint that answers decides; an
   * endpoint of another chain is then kept out of service.
   */
  chainId?: number
  logger?: Logger
  /** Where to register call counts, latencies and endpoint health. */
  metrics?: Registry
  /** Calls per JSON-RPC batch message; larger batches are split (nodes cap batch sizes). Default 100. */
  maxBatchSize?: number
  /** Backoff of a failed endpoint: doubles from `initialMs` (500) up to `maxMs` (10 s). */
  backoff?: { initialMs?: number; maxMs?: number }
  /** How often to look for failed endpoints whose backoff is over, to probe them. Default 500 ms. */
  probeIntervalMs?: number
  webSocket?: WebSocketTransportOptions
}

export type RequestOptions = {
  /** This call's timeout on each endpoint it tries. */
  timeoutMs?: number
  /** Abandons the call; it then rejects with the signal's reason and no endpoint is blamed. */
  signal?: AbortSignal
}

export type EndpointStatus = {
  /** The URL with credentials, query string and key-like path segments redacted. */
  url: string
  kind: 'http' | 'ws'
  /** False from a failure until a call or a probe succeeds again. */
  healthy: boolean
  /** Whether the last successful call went here. */
  active: boolean
  /** Failures in a row. */
  failures: number
  lastError?: string
  lastErrorAt?: string
  lastLatencyMs?: number
  chainId?: number
  /** While backing off: when the endpoint will be probed again. */
  retryInMs?: number
}

export type AvailabilityEvent = 'up' | 'down'

/** A `newHeads` notification: a block header as the node sends it. */
export type NewHead = { number: Hex; hash: Hex; parentHash: Hex; timestamp: Hex } & Record<string, unknown>

export type SubscribeOptions = {
  /**
   * Runs after the subscription was renewed on a new connection: heads pushed while it was down
   * were lost, so whoever follows the chain must re-sync from the node.
   */
  onGap?: () => void
}

type Endpoint = {
  index: number
  label: string
  transport: Transport
  failures: number
  downUntil: number
  /** A trial call (a probe, or a request after the backoff) is on its way to this failed endpoint. */
  testing: boolean
  /** Its chain id was checked since it last failed. */
  verified: boolean
  verifying: Promise<void> | undefined
  chainId: number | undefined
  lastFailure: RpcEndpointError | undefined
  lastErrorAt: number | undefined
  lastLatencyMs: number | undefined
}

type ClientSubscription = {
  params: unknown[]
  onData: (data: unknown) => void
  onGap: (() => void) | undefined
  current: SocketSubscription | undefined
  ended: boolean
  retryDelayMs: number
  timer: NodeJS.Timeout | undefined
}

const RESUBSCRIBE_INITIAL_MS = 250
const RESUBSCRIBE_MAX_MS = 5_000
/** A node that asks for a pause (429 `Retry-After`) is left alone this long at most. */
const MAX_RETRY_AFTER_MS = 60_000

/**
 * A JSON-RPC client over one or more node endpoints, in priority order.
 *
 * A call goes to the first healthy endpoint. A transport failure or a timeout there moves it to the
 * next one and benches the failed endpoint with exponential backoff; once the backoff is over, a
 * probe (`eth_chainId`) tests it, and when it answers for the right chain it is healthy again and —
 * being earlier in the list — gets the traffic back. Only one trial call at a time goes to a failed
 * endpoint, so an endpoint that hangs costs one timeout per backoff period, not one per call. Every
 * endpoint's chain id is checked before it carries traffic.
 *
 * A JSON-RPC error is the node's answer about the request, not about the node: it is returned to
 * the caller and never causes failover.
 */
export class RpcClient implements NodeClient {
  readonly #endpoints: Endpoint[]
  readonly #timeoutMs: number
  readonly #probeTimeoutMs: number
  readonly #maxBatch: number
  readonly #backoffInitialMs: number
  readonly #backoffMaxMs: number
  readonly #log: Logger
  readonly #metrics: RpcMetrics | undefined
  readonly #probeTimer: NodeJS.Timeout
  readonly #listeners = new Set<(available: boolean, reason: string) => void>()
  readonly #subscriptions = new Set<ClientSubscription>()
  #chainId: number | undefined
  #active: Endpoint | undefined
  #available: boolean | undefined
  #closed = false

  constructor(options: RpcClientOptions) {
    if (options.urls.length === 0) throw new TypeError('RpcClient needs at least one node URL')
    this.#endpoints = options.urls.map((url, index) => ({
      index,
      label: String(index),
      transport: transportFor(url, options.webSocket),
      failures: 0,
      downUntil: 0,
      testing: false,
      verified: false,
      verifying: undefined,
      chainId: undefined,
      lastFailure: undefined,
      lastErrorAt: undefined,
      lastLatencyMs: undefined,
    }))
    this.#timeoutMs = options.timeoutMs ?? 10_000
    this.#probeTimeoutMs = Math.min(this.#timeoutMs, 5_000)
    this.#chainId = options.chainId
    this.#maxBatch = options.maxBatchSize ?? 100
    this.#backoffInitialMs = options.backoff?.initialMs ?? 500
    this.#backoffMaxMs = options.backoff?.maxMs ?? 10_000
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'rpc' })
    this.#metrics = options.metrics ? rpcMetrics(options.metrics) : undefined
    for (const endpoint of this.#endpoints) this.#metrics?.up.set({ endpoint: endpoint.label }, 1)
    this.#probeTimer = setInterval(() => this.#probe(), options.probeIntervalMs ?? 500)
    this.#probeTimer.unref()
  }

  /** Whether `subscribe` can be used: some endpoint is a WebSocket. Otherwise the caller polls. */
  get supportsSubscriptions(): boolean {
    return this.#endpoints.some((endpoint) => endpoint.transport.kind === 'ws')
  }

  /** Whether some endpoint answers; undefined until the first call or probe has settled it. */
  get available(): boolean | undefined {
    return this.#available
  }

  /** The chain the endpoints serve, once the first one has answered (or as configured). */
  get chainId(): number | undefined {
    return this.#chainId
  }

  status(): EndpointStatus[] {
    const now = Date.now()
    return this.#endpoints.map((endpoint) => ({
      url: endpoint.transport.url,
      kind: endpoint.transport.kind,
      healthy: endpoint.failures === 0,
      active: endpoint === this.#active,
      failures: endpoint.failures,
      ...(endpoint.lastFailure ? { lastError: endpoint.lastFailure.message } : {}),
      ...(endpoint.lastErrorAt ? { lastErrorAt: new Date(endpoint.lastErrorAt).toISOString() } : {}),
      ...(endpoint.lastLatencyMs !== undefined ? { lastLatencyMs: endpoint.lastLatencyMs } : {}),
      ...(endpoint.chainId !== undefined ? { chainId: endpoint.chainId } : {}),
      ...(endpoint.failures > 0 ? { retryInMs: Math.max(0, endpoint.downUntil - now) } : {}),
    }))
  }

  /** `'down'` when no endpoint answers any more, `'up'` when one does again. Returns the remover. */
  on(event: AvailabilityEvent, listener: (reason: string) => void): () => void {
    return this.onAvailability((available, reason) => {
      if (available === (event === 'up')) listener(reason)
    })
  }

  /** Like `on`, with both transitions in one listener: `true` for up, `false` for down. */
  onAvailability(listener: (available: boolean, reason: string) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  async request<T>(method: string, params: unknown[], options: RequestOptions = {}): Promise<T> {
    const request = jsonRpcRequest(method, params)
    const { answers, endpoint } = await this.#send([request], options)
    const answer = answers[0]
    if (!answer) throw new RpcTransportError(endpoint.transport.url, `no answer to ${method}`)
    if (answer.error) throw new RpcResponseError(method, answer.error)
    return answer.result as T
  }

  /**
   * Sends the calls as JSON-RPC batches and returns one result per call, in order. A call the node
   * refused is an `{ ok: false }` result; only a failure of every endpoint rejects the whole batch.
   */
  async batch<T = unknown>(calls: RpcCall[], options: RequestOptions = {}): Promise<RpcBatchResult<T>[]> {
    const chunks: RpcCall[][] = []
    for (let i = 0; i < calls.length; i += this.#maxBatch) chunks.push(calls.slice(i, i + this.#maxBatch))
    const answered = await Promise.all(
      chunks.map(async (chunk) => {
        const requests = chunk.map((call) => jsonRpcRequest(call.method, call.params))
        const { answers, endpoint } = await this.#send(requests, options)
        return requests.map((request, i): RpcBatchResult<T> => {
          const answer = answers[i]
          if (!answer) {
            const error = new RpcTransportError(
              endpoint.transport.url,
              `no answer to ${request.method} in a batch`,
            )
            return { ok: false, error }
          }
          if (answer.error) return { ok: false, error: new RpcResponseError(request.method, answer.error) }
          return { ok: true, value: answer.result as T }
        })
      }),
    )
    return answered.flat()
  }

  /**
   * `eth_subscribe('newHeads')` on the first WebSocket endpoint that answers. When its connection
   * drops, the subscription is renewed — on that endpoint or the next WebSocket one — with backoff,
   * and `onGap` reports it. Rejects when no WebSocket endpoint can take it now: the caller polls.
   * Resolves to the unsubscribe function.
   */
  async subscribe(
    kind: 'newHeads',
    onHead: (head: NewHead) => void,
    options: SubscribeOptions = {},
  ): Promise<() => Promise<void>> {
    if (!this.supportsSubscriptions) throw new SubscriptionsUnsupportedError()
    const subscription: ClientSubscription = {
      params: [kind],
      onData: onHead as (data: unknown) => void,
      onGap: options.onGap,
      current: undefined,
      ended: false,
      retryDelayMs: RESUBSCRIBE_INITIAL_MS,
      timer: undefined,
    }
    await this.#attach(subscription)
    this.#subscriptions.add(subscription)
    return async () => {
      subscription.ended = true
      clearTimeout(subscription.timer)
      this.#subscriptions.delete(subscription)
      await subscription.current?.unsubscribe()
      subscription.current = undefined
    }
  }

  /** `subscribe('newHeads', onHead, { onGap })`, in the shape the service wires. */
  subscribeNewHeads(onHead: (head: NewHead) => void, onGap: () => void): Promise<() => Promise<void>> {
    return this.subscribe('newHeads', onHead, { onGap })
  }

  /** Ends subscriptions, the probe timer and every connection. Calls after this reject. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#probeTimer)
    for (const subscription of this.#subscriptions) {
      subscription.ended = true
      clearTimeout(subscription.timer)
    }
    this.#subscriptions.clear()
    await Promise.all(this.#endpoints.map((endpoint) => endpoint.transport.close()))
  }

  /** Healthy endpoints by priority, then failed ones whose backoff is over. */
  #candidates(kind?: 'ws'): Endpoint[] {
    const now = Date.now()
    const usable = this.#endpoints.filter((endpoint) => !kind || endpoint.transport.kind === kind)
    return [
      ...usable.filter((endpoint) => endpoint.failures === 0),
      ...usable.filter((endpoint) => endpoint.failures > 0 && endpoint.downUntil <= now),
    ]
  }

  async #send(
    requests: JsonRpcRequest[],
    options: RequestOptions,
  ): Promise<{ answers: (JsonRpcResponse | undefined)[]; endpoint: Endpoint }> {
    if (this.#closed) throw new RpcTransportError('rpc client', 'closed')
    const { signal } = options
    signal?.throwIfAborted()
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs
    const label = describeRequests(requests)
    const failures: { index: number; error: Error }[] = []
    for (const endpoint of this.#candidates()) {
      const trial = endpoint.failures > 0
      if (trial) {
        if (endpoint.testing) continue
        endpoint.testing = true
      }
      try {
        if (!endpoint.verified) await abortable(this.#verify(endpoint, timeoutMs), signal)
        const started = performance.now()
        let responses: JsonRpcResponse[]
        try {
          responses = await endpoint.transport.send(requests, { timeoutMs, signal })
        } catch (error) {
          this.#count(endpoint, requests, signal?.aborted ? 'aborted' : outcomeOf(error))
          throw error
        }
        this.#observe(endpoint, label, performance.now() - started)
        const byId = new Map(responses.map((response) => [response.id, response]))
        const answers = requests.map((request) => byId.get(request.id))
        for (const [i, request] of requests.entries()) {
          this.#count(endpoint, [request], answers[i]?.error ? 'rpc_error' : 'ok')
        }
        this.#succeeded(endpoint, true)
        return { answers, endpoint }
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        if (!isTransportFailure(error)) throw error
        this.#failed(endpoint, error)
        failures.push({ index: endpoint.index, error })
      } finally {
        if (trial) endpoint.testing = false
      }
    }
    throw this.#unavailable(failures)
  }

  /** Checks the endpoint's chain id; the first endpoint to answer sets it when none was configured. */
  #verify(endpoint: Endpoint, timeoutMs: number): Promise<void> {
    endpoint.verifying ??= (async () => {
      const request = jsonRpcRequest('eth_chainId', [])
      const started = performance.now()
      let answer: JsonRpcResponse | undefined
      try {
        answer = (await endpoint.transport.send([request], { timeoutMs })).find((r) => r.id === request.id)
      } catch (error) {
        this.#count(endpoint, [request], outcomeOf(error))
        throw error
      }
      this.#observe(endpoint, 'eth_chainId', performance.now() - started)
      const chainId = parseChainId(answer?.result)
      if (chainId === undefined) {
        this.#count(endpoint, [request], 'transport_error')
        const what = answer?.error ? `error ${answer.error.code} ${answer.error.message}` : 'no chain id'
        throw new RpcTransportError(endpoint.transport.url, `eth_chainId answered ${what}`)
      }
      endpoint.chainId = chainId
      const expected = this.#chainId ?? chainId
      if (chainId !== expected) {
        this.#count(endpoint, [request], 'wrong_chain')
        throw new RpcChainMismatchError(endpoint.transport.url, expected, chainId)
      }
      this.#count(endpoint, [request], 'ok')
      this.#chainId = expected
      endpoint.verified = true
    })().finally(() => {
      endpoint.verifying = undefined
    })
    return endpoint.verifying
  }

  /** Tests each failed endpoint whose backoff is over, so that traffic returns to it when it answers. */
  #probe(): void {
    const now = Date.now()
    for (const endpoint of this.#endpoints) {
      if (this.#closed || endpoint.failures === 0 || endpoint.downUntil > now || endpoint.testing) continue
      endpoint.testing = true
      this.#verify(endpoint, this.#probeTimeoutMs)
        .then(
          () => this.#succeeded(endpoint, false),
          (error: unknown) => {
            if (isTransportFailure(error)) this.#failed(endpoint, error)
            else this.#log.error({ err: error, endpoint: endpoint.transport.url }, 'node probe failed')
          },
        )
        .finally(() => {
          endpoint.testing = false
        })
    }
  }

  async #attach(subscription: ClientSubscription): Promise<void> {
    const failures: { index: number; error: Error }[] = []
    for (const endpoint of this.#candidates('ws')) {
      const trial = endpoint.failures > 0
      if (trial) {
        if (endpoint.testing) continue
        endpoint.testing = true
      }
      try {
        if (!endpoint.verified) await this.#verify(endpoint, this.#timeoutMs)
        const transport = endpoint.transport as WebSocketTransport
        subscription.current = await transport.subscribe(
          subscription.params,
          (data) => this.#deliver(subscription, data),
          () => this.#lost(subscription, endpoint),
          { timeoutMs: this.#timeoutMs },
        )
        this.#succeeded(endpoint, false)
        this.#log.debug({ endpoint: transport.url, params: subscription.params }, 'subscribed')
        return
      } catch (error) {
        if (!isTransportFailure(error)) throw error
        this.#failed(endpoint, error)
        failures.push({ index: endpoint.index, error })
      } finally {
        if (trial) endpoint.testing = false
      }
    }
    throw this.#unavailable(failures, 'ws')
  }

  #deliver(subscription: ClientSubscription, data: unknown): void {
    if (subscription.ended) return
    try {
      subscription.onData(data)
    } catch (error) {
      this.#log.error({ err: error }, 'a subscriber threw; the subscription goes on')
    }
  }

  #lost(subscription: ClientSubscription, endpoint: Endpoint): void {
    subscription.current = undefined
    if (subscription.ended || this.#closed) return
    this.#log.warn({ endpoint: endpoint.transport.url }, 'subscription lost with its connection; renewing it')
    this.#renew(subscription)
  }

  #renew(subscription: ClientSubscription): void {
    subscription.timer = setTimeout(async () => {
      subscription.timer = undefined
      try {
        await this.#attach(subscription)
      } catch (error) {
        if (subscription.ended || this.#closed) return
        this.#log.debug(
          { err: error, retryInMs: subscription.retryDelayMs },
          'renewing the subscription failed',
        )
        subscription.retryDelayMs = Math.min(subscription.retryDelayMs * 2, RESUBSCRIBE_MAX_MS)
        this.#renew(subscription)
        return
      }
      if (subscription.ended || this.#closed) {
        await subscription.current?.unsubscribe()
        return
      }
      subscription.retryDelayMs = RESUBSCRIBE_INITIAL_MS
      this.#log.info(
        { params: subscription.params },
        'subscription renewed; notifications may have been missed',
      )
      try {
        subscription.onGap?.()
      } catch (error) {
        this.#log.error({ err: error }, 'a subscriber threw on a gap')
      }
    }, subscription.retryDelayMs)
    subscription.timer.unref()
  }

  #succeeded(endpoint: Endpoint, served: boolean): void {
    if (endpoint.failures > 0) {
      this.#log.info(
        { endpoint: endpoint.transport.url, after: endpoint.failures },
        'node endpoint answers again',
      )
      endpoint.failures = 0
      endpoint.downUntil = 0
      this.#metrics?.up.set({ endpoint: endpoint.label }, 1)
    }
    if (served && this.#active !== endpoint) {
      if (this.#active) {
        this.#log.warn({ from: this.#active.transport.url, to: endpoint.transport.url }, 'node traffic moved')
      }
      this.#active = endpoint
    }
    this.#setAvailable(true, `node endpoint #${endpoint.index} answers`)
  }

  #failed(endpoint: Endpoint, error: RpcEndpointError): void {
    const now = Date.now()
    endpoint.lastFailure = error
    endpoint.lastErrorAt = now
    // Calls that were already on their way when the endpoint was benched fail for the same cause:
    // they do not lengthen the backoff.
    if (endpoint.downUntil > now) return
    endpoint.failures += 1
    endpoint.verified = false
    const backoff =
      error instanceof RpcChainMismatchError
        ? this.#backoffMaxMs
        : Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** (endpoint.failures - 1))
    const asked = error instanceof RpcTransportError ? (error.retryAfterMs ?? 0) : 0
    endpoint.downUntil = now + Math.max(backoff, Math.min(asked, MAX_RETRY_AFTER_MS))
    this.#metrics?.up.set({ endpoint: endpoint.label }, 0)
    if (this.#active === endpoint) this.#active = undefined
    const details = { endpoint: endpoint.transport.url, err: error.reason, failures: endpoint.failures }
    if (endpoint.failures === 1) this.#log.warn(details, 'node endpoint failed')
    else this.#log.debug(details, 'node endpoint failed again')
    if (this.#endpoints.every((candidate) => candidate.failures > 0)) {
      this.#setAvailable(false, new NodeUnavailableError(this.#lastFailures(), this.#retryInMs()).message)
    }
  }

  #unavailable(failures: { index: number; error: Error }[], kind?: 'ws'): NodeUnavailableError {
    const tried = new Set(failures.map((failure) => failure.index))
    const benched = this.#lastFailures(kind).filter((failure) => !tried.has(failure.index))
    return new NodeUnavailableError(
      [...failures, ...benched].sort((a, b) => a.index - b.index),
      this.#retryInMs(),
    )
  }

  #lastFailures(kind?: 'ws'): { index: number; error: Error }[] {
    return this.#endpoints
      .filter(
        (endpoint) =>
          endpoint.failures > 0 && endpoint.lastFailure && (!kind || endpoint.transport.kind === kind),
      )
      .map((endpoint) => ({ index: endpoint.index, error: endpoint.lastFailure! }))
  }

  /** Until the earliest backoff ends: when retrying can make sense. */
  #retryInMs(): number {
    const now = Date.now()
    const ends = this.#endpoints.filter((e) => e.failures > 0).map((e) => e.downUntil - now)
    return Math.max(0, Math.min(...ends, this.#backoffMaxMs))
  }

  #setAvailable(available: boolean, reason: string): void {
    if (this.#available === available) return
    this.#available = available
    if (available) this.#log.info({ reason }, 'node available')
    else this.#log.warn({ reason }, 'node unavailable')
    for (const listener of this.#listeners) {
      try {
        listener(available, reason)
      } catch (error) {
        this.#log.error({ err: error }, 'an availability listener threw')
      }
    }
  }

  #count(endpoint: Endpoint, requests: JsonRpcRequest[], outcome: RpcOutcome): void {
    if (!this.#metrics) return
    for (const request of requests) {
      this.#metrics.calls.inc({ method: request.method, endpoint: endpoint.label, outcome })
    }
  }

  #observe(endpoint: Endpoint, label: string, ms: number): void {
    endpoint.lastLatencyMs = Math.round(ms * 10) / 10
    const method = label.startsWith('batch of') ? 'batch' : label
    this.#metrics?.latency.observe({ method, endpoint: endpoint.label }, ms / 1000)
  }
}

function transportFor(url: string, options: WebSocketTransportOptions | undefined): Transport {
  const protocol = url.slice(0, url.indexOf(':')).toLowerCase()
  if (protocol === 'ws' || protocol === 'wss') return new WebSocketTransport(url, options)
  if (protocol === 'http' || protocol === 'https') return new HttpTransport(url)
  throw new TypeError(`A node URL must be http(s):// or ws(s)://, not ${protocol || 'without a scheme'}:`)
}

function outcomeOf(error: unknown): RpcOutcome {
  if (error instanceof RpcTimeoutError) return 'timeout'
  if (error instanceof RpcChainMismatchError) return 'wrong_chain'
  return 'transport_error'
}

function parseChainId(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{1,15}$/.test(value)) return undefined
  return Number.parseInt(value, 16)
}

/** The promise, or the signal's reason as soon as it fires. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
