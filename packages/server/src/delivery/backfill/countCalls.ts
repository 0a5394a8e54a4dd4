import type { NodeClient, RpcCall } from '../../chain/NodeClient.js'

/** A view of `node` that counts the calls made through it (each call of a batch counts). */
export function countCalls(node: NodeClient): { node: NodeClient; calls: () => number } {
  let calls = 0
  return {
    node: {
      request: <T>(method: string, params: unknown[], options?: { timeoutMs?: number }) => {
        calls += 1
        return node.request<T>(method, params, options)
      },
      batch: <T>(batch: RpcCall[]) => {
        calls += batch.length
        return node.batch<T>(batch)
      },
    },
    calls: () => calls,
  }
}
