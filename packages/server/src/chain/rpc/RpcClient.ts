import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { NodeClient, RpcBatchResult, RpcCall } from '../NodeClient.js'
import { isTransportFailure, NodeUnavailableError, RpcResponseError, RpcTransportError } from './errors.js'
import { HttpTransport } from './HttpTransport.js'
import type { JsonRpcRequest, JsonRpcResponse, Transport } from './transport.js'
import { WebSocketTransport } from './WebSocketTransport.js'

export type EndpointStatus = {
  url: string
  kind: 'http' | 'ws'
  healthy: boolean
  active: boolean
  lastError?: string
  lastLatencyMs?: number
}

export type RpcClientOptions = {
  /** Endpoints in priority order: http(s):// or ws(s)://. */
  urls: string[]
  timeoutMs: number
  logger: Logger
  metrics?: Registry
  /** Calls per JSON-RPC batch message; larger batches are split (nodes cap batch sizes). */
  maxBatchSize?: number
}

type Endpoint = {
  index: number
  transport: Transport
  downUntil: number
  failures: number
  lastError?: string
  lastLatencyMs?: number
}

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000

/**
 * A JSON-RPC client over several node endpoints with failover. A request goes to the
 * highest-priority endpoint that is not backing off; a transport failure or timeout sends it to
 * the next one and benches the failed one with exponential backoff. Once its backoff has passed,
 * a higher-priority endpoint gets the next request again — that request is the probe that brings
 * the client back to it. JSON-RPC errors are answers, not failures: they are returned as they are.
 */
export class RpcClient implements NodeClient {
  readonly #endpoints: Endpoint[]
  readonly #timeoutMs: number
  readonly #maxBatch: number
  readonly #log: Logger
  #nextId = 1
  #available: boolean | undefined
  #active: Endpoint | undefined
  readonly #availability = new Set<(available: boolean, reason: string) => void>()
  readonly #m:
    | {
        calls: Counter<'method' | 'endpoint' | 'outcome'>
        latency: Histogram<'endpoint'>
        up: Gauge<'endpoint'>
      }
    | undefined

  constructor(options: RpcClientOptions) {
    if (options.urls.length === 0) throw new Error('RpcClient needs at least one URL')
    this.#endpoints = options.urls.map((url, index) => ({
      index,
      transport: url.startsWith('ws') ? new WebSocketTransport(url) : new HttpTransport(url),
      downUntil: 0,
      failures: 0,
    }))
    this.#timeoutMs = options.timeoutMs
    this.#maxBatch = options.maxBatchSize ?? 100
    this.#log = options.logger.child({ component: 'rpc' })
    if (options.metrics) {
      const registers = [options.metrics]
      this.#m = {
        calls: new Counter({
          name: 'wallet_backend_node_requests_total',
          help: 'JSON-RPC calls to the node by method, endpoint (index in priority order) and outcome',
          labelNames: ['method', 'endpoint', 'outcome'],
          registers,
        }),
        latency: new Histogram({
          name: 'wallet_backend_node_request_seconds',
          help: 'JSON-RPC round-trip time by endpoint',
          labelNames: ['endpoint'],
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
          registers,
        }),
        up: new Gauge({
          name: 'wallet_backend_node_endpoint_up',
          help: '1 while the endpoint is not backing off after a failure',
          labelNames: ['endpoint'],
          registers,
        }),
      }
      for (const endpoint of this.#endpoints) this.#m.up.set({ endpoint: String(endpoint.index) }, 1)
    }
  }

  /** Whether some endpoint answers WebSocket subscriptions. */
  get supportsSubscriptions(): boolean {
    return this.#endpoints.some((endpoint) => endpoint.transport.kind === 'ws')
  }

  /** Undefined until the first call has succeeded or failed everywhere. */
  get available(): boolean | undefined {
    return this.#available
  }

  status(): EndpointStatus[] {
    const now = Date.now()
    return this.#endpoints.map((endpoint) => ({
      url: endpoint.transport.url,
      kind: endpoint.transport.kind,
      healthy: endpoint.downUntil <= now && endpoint.failures === 0,
      active: endpoint === this.#active,
      ...(endpoint.lastError ? { lastError: endpoint.lastError } : {}),
      ...(endpoint.lastLatencyMs !== undefined ? { lastLatencyMs: endpoint.lastLatencyMs } : {}),
    }))
  }

  /** Called when the node as a whole becomes unreachable (`false`) or reachable again (`true`). */
  onAvailability(listener: (available: boolean, reason: string) => void): () => void {
    this.#availability.add(listener)
    return () => this.#availability.delete(listener)
  }

  async request<T>(method: string, params: unknown[], options: { timeoutMs?: number } = {}): Promise<T> {
    const request = this.#request(method, params)
    const [response] = await this.#send([request], options.timeoutMs ?? this.#timeoutMs, method)
    if (!response) throw new RpcTransportError(this.#active?.transport.url ?? '?', `no answer to ${method}`)
    if (response.error) throw new RpcResponseError(method, response.error)
    return response.result as T
  }

  async batch<T = unknown>(calls: RpcCall[]): Promise<RpcBatchResult<T>[]> {
    const chunks: RpcCall[][] = []
    for (let i = 0; i < calls.length; i += this.#maxBatch) chunks.push(calls.slice(i, i + this.#maxBatch))
    const answered = await Promise.all(
      chunks.map(async (chunk) => {
        const requests = chunk.map((call) => this.#request(call.method, call.params))
        const responses = await this.#send(requests, this.#timeoutMs, 'batch')
        const byId = new Map(responses.map((response) => [response.id, response]))
        return requests.map((request): RpcBatchResult<T> => {
          const response = byId.get(request.id)
          if (!response)
            return { ok: false, error: new RpcTransportError('node', `no answer to ${request.method}`) }
          if (response.error)
            return { ok: false, error: new RpcResponseError(request.method, response.error) }
          return { ok: true, value: response.result as T }
        })
      }),
    )
    return answered.flat()
  }

  /**
   * Subscribes to `newHeads` on the first WebSocket endpoint. `onGap` runs when the subscription
   * was renewed after a dropped connection: heads may have been missed in between.
   */
  async subscribeNewHeads(onHead: (head: unknown) => void, onGap: () => void): Promise<() => Promise<void>> {
    const endpoint = this.#endpoints.find((candidate) => candidate.transport.kind === 'ws')
    if (!endpoint) throw new Error('no WebSocket endpoint to subscribe on')
    return (endpoint.transport as WebSocketTransport).subscribe(['newHeads'], onHead, onGap, this.#timeoutMs)
  }

  async close(): Promise<void> {
    await Promise.all(this.#endpoints.map((endpoint) => endpoint.transport.close()))
  }

  #request(method: string, params: unknown[]): JsonRpcRequest {
    return { jsonrpc: '2.0', id: this.#nextId++, method, params }
  }

  /** Preferred endpoints first (not backing off, by priority), then the benched ones as a last resort. */
  #order(): Endpoint[] {
    const now = Date.now()
    const ready = this.#endpoints.filter((endpoint) => endpoint.downUntil <= now)
    const benched = this.#endpoints
      .filter((endpoint) => endpoint.downUntil > now)
      .sort((a, b) => a.downUntil - b.downUntil)
    return [...ready, ...benched]
  }

  async #send(requests: JsonRpcRequest[], timeoutMs: number, label: string): Promise<JsonRpcResponse[]> {
    const reasons: string[] = []
    for (const endpoint of this.#order()) {
      const started = performance.now()
      const endpointLabel = String(endpoint.index)
      try {
        const responses = await endpoint.transport.send(requests, timeoutMs)
        const ms = performance.now() - started
        endpoint.lastLatencyMs = Math.round(ms * 10) / 10
        this.#m?.latency.observe({ endpoint: endpointLabel }, ms / 1000)
        this.#m?.calls.inc({ method: label, endpoint: endpointLabel, outcome: 'ok' })
        this.#succeeded(endpoint)
        return responses
      } catch (error) {
        if (!isTransportFailure(error)) throw error
        this.#m?.calls.inc({ method: label, endpoint: endpointLabel, outcome: 'failed' })
        this.#failed(endpoint, error as Error)
        reasons.push(`${endpoint.transport.url}: ${(error as Error).message}`)
      }
    }
    this.#setAvailable(false, reasons.join('; '))
    throw new NodeUnavailableError(reasons)
  }

  #succeeded(endpoint: Endpoint): void {
    if (endpoint.failures > 0) {
      this.#log.info({ endpoint: endpoint.transport.url }, 'node endpoint answers again')
      this.#m?.up.set({ endpoint: String(endpoint.index) }, 1)
    }
    endpoint.failures = 0
    endpoint.downUntil = 0
    endpoint.lastError = undefined
    if (this.#active !== endpoint) {
      if (this.#active) {
        this.#log.warn(
          { from: this.#active.transport.url, to: endpoint.transport.url },
          'node endpoint switched',
        )
      }
      this.#active = endpoint
    }
    this.#setAvailable(true, `${endpoint.transport.url} answers`)
  }

  #failed(endpoint: Endpoint, error: Error): void {
    endpoint.failures += 1
    endpoint.lastError = error.message
    const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (endpoint.failures - 1))
    endpoint.downUntil = Date.now() + backoff
    this.#m?.up.set({ endpoint: String(endpoint.index) }, 0)
    if (endpoint.failures === 1) {
      this.#log.warn({ endpoint: endpoint.transport.url, err: error.message }, 'node endpoint failed')
    }
  }

  #setAvailable(available: boolean, reason: string): void {
    if (this.#available === available) return
    this.#available = available
    for (const listener of this.#availability) listener(available, reason)
  }
}
