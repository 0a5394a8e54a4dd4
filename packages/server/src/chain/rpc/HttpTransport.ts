import { RpcTimeoutError, RpcTransportError } from './errors.js'
import { redactRpcUrl } from './redactRpcUrl.js'
import {
  describeRequests,
  type JsonRpcRequest,
  type JsonRpcResponse,
  matchResponses,
  type SendOptions,
  type Transport,
} from './transport.js'

/**
 * JSON-RPC over HTTP(S): one POST per call, a batch as one POST of an array. fetch keeps the
 * connections alive between calls.
 */
export class HttpTransport implements Transport {
  readonly kind = 'http'
  readonly url: string
  readonly #endpoint: string

  constructor(endpoint: string) {
    this.#endpoint = endpoint
    this.url = redactRpcUrl(endpoint)
  }

  async send(requests: JsonRpcRequest[], options: SendOptions): Promise<JsonRpcResponse[]> {
    const label = describeRequests(requests)
    const timeout = AbortSignal.timeout(options.timeoutMs)
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout
    // Both the request and the reading of the answer count against the timeout.
    const failed = (error: unknown, during: string): Error => {
      if (options.signal?.aborted) return options.signal.reason as Error
      if (timeout.aborted) return new RpcTimeoutError(this.url, label, options.timeoutMs)
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      // undici names a connection the node closed under a request UND_ERR_SOCKET: it is a reset,
      // and is reported like one, as the same event through a plain socket is.
      const code = cause?.code === 'UND_ERR_SOCKET' ? 'ECONNRESET' : cause?.code
      const reason = code ?? cause?.message ?? (error as Error).message
      return new RpcTransportError(this.url, during ? `${during}: ${reason}` : reason, { cause: error })
    }
    let response: Response
    try {
      response = await fetch(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(requests.length === 1 ? requests[0] : requests),
        signal,
      })
    } catch (error) {
      throw failed(error, '')
    }
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      throw failed(error, 'reading the answer failed')
    }
    if (response.status >= 500 || response.status === 429) {
      throw new RpcTransportError(this.url, `HTTP ${response.status}: ${excerpt(text)}`, {
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new RpcTransportError(this.url, `HTTP ${response.status}, not JSON: ${excerpt(text)}`)
    }
    // Some nodes answer a refused request with a 4xx and a JSON-RPC error; that is still an answer.
    const responses = matchResponses(requests, parsed)
    if (!responses)
      throw new RpcTransportError(this.url, `HTTP ${response.status}, not JSON-RPC: ${excerpt(text)}`)
    return responses
  }

  async close(): Promise<void> {}
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine
}

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
