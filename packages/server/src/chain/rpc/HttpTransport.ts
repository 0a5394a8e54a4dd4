import { redactUrl } from '../../config/settings.js'
import { RpcTimeoutError, RpcTransportError } from './errors.js'
import type { JsonRpcRequest, JsonRpcResponse, Transport } from './transport.js'

/** JSON-RPC over HTTP(S) with fetch; a batch is one POST of an array. */
export class HttpTransport implements Transport {
  readonly kind = 'http'
  readonly url: string
  readonly #endpoint: string

  constructor(endpoint: string) {
    this.#endpoint = endpoint
    this.url = redactUrl(endpoint)
  }

  async send(requests: JsonRpcRequest[], timeoutMs: number): Promise<JsonRpcResponse[]> {
    const body = JSON.stringify(requests.length === 1 ? requests[0] : requests)
    const label = requests.length === 1 ? requests[0]!.method : `batch of ${requests.length}`
    let response: Response
    try {
      response = await fetch(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new RpcTimeoutError(this.url, label, timeoutMs)
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      throw new RpcTransportError(this.url, cause?.code ?? cause?.message ?? (error as Error).message, error)
    }
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new RpcTimeoutError(this.url, label, timeoutMs)
      throw new RpcTransportError(this.url, `reading the response failed: ${(error as Error).message}`, error)
    }
    if (response.status >= 500 || response.status === 429) {
      throw new RpcTransportError(this.url, `HTTP ${response.status}: ${text.slice(0, 120)}`)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new RpcTransportError(this.url, `HTTP ${response.status}, not JSON-RPC: ${text.slice(0, 120)}`)
    }
    const responses = Array.isArray(parsed) ? parsed : [parsed]
    if (!responses.every((r) => typeof r === 'object' && r !== null && 'id' in r)) {
      // A batch refused as a whole (e.g. a batch-size limit) comes back as one error without an id.
      const error = (parsed as JsonRpcResponse).error
      throw new RpcTransportError(
        this.url,
        `HTTP ${response.status}: ${error?.message ?? text.slice(0, 120)}`,
      )
    }
    return responses as JsonRpcResponse[]
  }

  async close(): Promise<void> {}
}
