import type { Address } from 'viem'
import { type FetchedBlock, fetchBlocks, type ReceiptsMode } from '../follower/fetchBlocks.js'
import type { NodeClient } from '../NodeClient.js'
import type { RpcReceipt, RpcTransaction } from '../types.js'

export type ScannedTransaction = { block: FetchedBlock['block']; tx: RpcTransaction; receipt: RpcReceipt }

export type ScanTransactionsOptions = {
  node: NodeClient
  fromBlock: number
  toBlock: number
  /** Transactions sent to one of these, or creating a contract at one of them, are reported. */
  addresses: readonly Address[]
  /** Called per batch of blocks in block order; persist `to` to resume after a restart. */
  onBatch: (transactions: ScannedTransaction[], range: { from: number; to: number }) => Promise<void>
  batchSize?: number
  signal?: AbortSignal
}

/**
 * Scans a block range for transactions to a set of addresses. There is no index for that on a
 * node, so every block is fetched (verified like the follower's), in batches, with the next batch
 * in flight while one is handed over.
 */
export async function scanTransactions(options: ScanTransactionsOptions): Promise<{ transactions: number }> {
  const wanted = new Set(options.addresses.map((address) => address.toLowerCase()))
  const batchSize = options.batchSize ?? 20
  const mode: ReceiptsMode = { perBlock: true }
  let count = 0
  const fetchFrom = (from: number) => {
    const to = Math.min(options.toBlock, from + batchSize - 1)
    const numbers = Array.from({ length: to - from + 1 }, (_, i) => from + i)
    const pending = fetchBlocks(options.node, numbers, mode).then((blocks) => ({ blocks, from, to }))
    pending.catch(() => {})
    return pending
  }
  let next = options.fromBlock <= options.toBlock ? fetchFrom(options.fromBlock) : undefined
  while (next) {
    options.signal?.throwIfAborted()
    const { blocks, from, to } = await next
    next = to < options.toBlock ? fetchFrom(to + 1) : undefined
    const found: ScannedTransaction[] = []
    for (const { block, receipts } of blocks) {
      for (const [index, tx] of block.transactions.entries()) {
        const receipt = receipts[index]!
        const target = (tx.to ?? receipt.contractAddress ?? '').toLowerCase()
        if (wanted.has(target)) found.push({ block, tx, receipt })
      }
    }
    await options.onBatch(found, { from, to })
    count += found.length
  }
  return { transactions: count }
}
