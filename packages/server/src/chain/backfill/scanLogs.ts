import type { Address, Hex } from 'viem'
import type { NodeClient } from '../NodeClient.js'
import { RpcResponseError } from '../rpc/errors.js'
import type { RpcLog } from '../types.js'

export type LogScanRange = { from: number; to: number }

export type ScanLogsOptions = {
  node: NodeClient
  fromBlock: number
  toBlock: number
  /** The emitters to ask for; left out, logs of any contract (then `topics` should narrow them). */
  addresses?: readonly Address[]
  /** eth_getLogs topic filter: per position a value, a set of values, or null for any. */
  topics?: readonly (Hex | readonly Hex[] | null)[]
  /** Called for each scanned range in block order; persist `range.to` to resume after a restart. */
  onChunk: (logs: RpcLog[], range: LogScanRange) => Promise<void>
  initialChunkSize?: number
  maxChunkSize?: number
  signal?: AbortSignal
}

export type ScanLogsResult = { logs: number; chunks: number; shrinks: number }

/**
 * Nodes refuse eth_getLogs over too many blocks or results in many dialects; all of them mean
 * "ask for a smaller range".
 */
export function isResultTooLarge(error: unknown): boolean {
  if (!(error instanceof RpcResponseError)) return false
  return (
    error.rpcCode === -32005 ||
    /too many|exceed|limit|range|response size|query returned more than|block range|results/i.test(
      error.message,
    )
  )
}

/**
 * Scans `fromBlock..toBlock` for the logs of `addresses` (and `topics`) with eth_getLogs in chunks
 * that halve when the node says a range is too large and grow again after successes. The next
 * chunk is requested while the current one is handed to `onChunk`, so the node and the consumer
 * work at the same time; chunks still reach `onChunk` strictly in block order.
 */
export async function scanLogs(options: ScanLogsOptions): Promise<ScanLogsResult> {
  const maxChunk = options.maxChunkSize ?? 10_000
  let chunk = Math.min(options.initialChunkSize ?? 2_000, maxChunk)
  const result: ScanLogsResult = { logs: 0, chunks: 0, shrinks: 0 }
  if (options.addresses?.length === 0 || options.fromBlock > options.toBlock) return result

  const fetchRange = async (from: number): Promise<{ logs: RpcLog[]; range: LogScanRange }> => {
    for (;;) {
      options.signal?.throwIfAborted()
      const to = Math.min(options.toBlock, from + chunk - 1)
      try {
        const logs = await options.node.request<RpcLog[]>('eth_getLogs', [
          {
            fromBlock: `0x${from.toString(16)}`,
            toBlock: `0x${to.toString(16)}`,
            ...(options.addresses ? { address: options.addresses } : {}),
            ...(options.topics ? { topics: options.topics } : {}),
          },
        ])
        chunk = Math.min(maxChunk, Math.ceil(chunk * 1.5))
        return { logs, range: { from, to } }
      } catch (error) {
        if (!isResultTooLarge(error) || chunk === 1) throw error
        chunk = Math.max(1, Math.floor(chunk / 2))
        result.shrinks += 1
      }
    }
  }

  type Fetched = { logs: RpcLog[]; range: LogScanRange }
  let next: Promise<Fetched> | undefined = fetchRange(options.fromBlock)
  while (next) {
    const { logs, range }: Fetched = await next
    next = range.to < options.toBlock ? fetchRange(range.to + 1) : undefined
    next?.catch(() => {}) // surfaced when awaited; must not be unhandled if onChunk throws first
    await options.onChunk(logs, range)
    result.logs += logs.length
    result.chunks += 1
  }
  return result
}
