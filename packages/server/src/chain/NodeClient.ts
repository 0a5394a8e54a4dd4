/** One call of a JSON-RPC batch. */
export type RpcCall = { method: string; params: unknown[] }

/** One result of a JSON-RPC batch: a value, or the error that call alone got. */
export type RpcBatchResult<T = unknown> = { ok: true; value: T } | { ok: false; error: Error }

/**
 * What the chain code needs from a node connection. The failover client implements it; keeping the
 * follower to this interface is what lets a fault-injecting node stand in for one in tests.
 */
export interface NodeClient {
  request<T>(method: string, params: unknown[], options?: { timeoutMs?: number }): Promise<T>
  batch<T = unknown>(calls: RpcCall[]): Promise<RpcBatchResult<T>[]>
}
