export type JsonRpcRequest = { jsonrpc: '2.0'; id: number; method: string; params: unknown[] }
export type JsonRpcResponse = {
  jsonrpc: '2.0'
  id: number
  result?: unknown
  error?: { code: number; message: string; data?: unknown }
}

/** One endpoint's wire: send requests, get their responses (any order), or throw a transport error. */
export interface Transport {
  readonly url: string
  readonly kind: 'http' | 'ws'
  send(requests: JsonRpcRequest[], timeoutMs: number): Promise<JsonRpcResponse[]>
  close(): Promise<void>
}
