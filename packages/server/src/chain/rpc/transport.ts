export type JsonRpcRequest = { jsonrpc: '2.0'; id: number; method: string; params: unknown[] }

export type JsonRpcError = { code: number; message: string; data?: unknown }

export type JsonRpcResponse = {
  jsonrpc: '2.0'
  id: number
  result?: unknown
  error?: JsonRpcError
}

export type SendOptions = {
  timeoutMs: number
  signal?: AbortSignal | undefined
}

/**
 * One endpoint's wire. `send` resolves with one answer per request (in any order; a JSON-RPC error
 * is an answer), or rejects with an `RpcTimeoutError` / `RpcTransportError` — or with the caller's
 * abort reason when `signal` fires.
 */
export interface Transport {
  /** The endpoint URL with its secrets redacted. */
  readonly url: string
  readonly kind: 'http' | 'ws'
  send(requests: JsonRpcRequest[], options: SendOptions): Promise<JsonRpcResponse[]>
  close(): Promise<void>
}

let lastId = 0

/** Request ids unique in the process, so that calls sharing one WebSocket never collide. */
export function nextRequestId(): number {
  lastId = lastId >= Number.MAX_SAFE_INTEGER ? 1 : lastId + 1
  return lastId
}

export function jsonRpcRequest(method: string, params: unknown[]): JsonRpcRequest {
  return { jsonrpc: '2.0', id: nextRequestId(), method, params }
}

/** A label for logs, metrics and timeouts: the method, or the size of a batch. */
export function describeRequests(requests: JsonRpcRequest[]): string {
  return requests.length === 1 ? requests[0]!.method : `batch of ${requests.length}`
}

/** Whether a parsed message is a JSON-RPC answer (a result or an error, with an id). */
export function isJsonRpcResponse(value: unknown): value is JsonRpcResponse {
  if (typeof value !== 'object' || value === null || !('id' in value)) return false
  if ('error' in value) {
    const error = (value as { error: unknown }).error
    return (
      typeof error === 'object' &&
      error !== null &&
      typeof (error as JsonRpcError).code === 'number' &&
      typeof (error as JsonRpcError).message === 'string'
    )
  }
  return 'result' in value
}

/**
 * Maps what a node answered to one answer per request. A node that refuses a batch as a whole (a
 * size limit, a parse error) answers with one error without a usable id: that error is the answer
 * to every request in it. Returns undefined when the message is not JSON-RPC at all.
 */
export function matchResponses(requests: JsonRpcRequest[], parsed: unknown): JsonRpcResponse[] | undefined {
  const items = Array.isArray(parsed) ? parsed : [parsed]
  if (items.length > 0 && items.every(isJsonRpcResponse)) {
    const ids = new Set(requests.map((request) => request.id))
    if (items.some((item) => ids.has(item.id))) return items
  }
  if (!Array.isArray(parsed) && typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
    const { error } = parsed as { error: unknown }
    if (isJsonRpcResponse({ id: null, error })) {
      return requests.map((request) => ({ jsonrpc: '2.0', id: request.id, error: error as JsonRpcError }))
    }
  }
  return undefined
}
