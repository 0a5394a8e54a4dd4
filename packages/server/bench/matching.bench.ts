import type { Hex } from 'viem'
import type { FetchedBlock } from '../src/chain/follower/fetchBlocks.js'
import type { RpcBlock, RpcReceipt } from '../src/chain/types.js'
import { TRANSFER_TOPIC } from '../src/filters/compileFilter.js'
import { FilterIndex } from '../src/filters/FilterIndex.js'

const hex = (n: number, bytes: number) => `0x${n.toString(16).padStart(bytes * 2, '0')}` as Hex

/**
 * The same 20 blocks (200 transactions, 400 token-transfer logs each, over 1,000 token contracts)
 * matched against 1k, 100k and 1M installed filters on 10,000 other contracts plus a fixed set
 * of 100 filters that do match. If matching is proportional to the block and not to the filter
 * count (DESIGN invariant 8), the time per block stays flat.
 */
export async function runMatchingBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const blocks: FetchedBlock[] = Array.from({ length: 20 }, (_, b) => block(b))
  const figures: Record<string, number> = {}
  const sizes = options.quick ? [1_000, 100_000, 1_000_000] : [1_000, 100_000, 1_000_000]
  for (const size of sizes) {
    const index = new FilterIndex()
    let id = 1
    // Matching filters: 100 clients watching transfers of tokens that appear in the blocks.
    for (let c = 0; c < 100; c++) {
      index.setInterest({
        clientContractId: id,
        clientId: hex(c, 20),
        address: hex(0x1000 + c, 20),
        filters: [{ id: id++, code: 'logs', args: [TRANSFER_TOPIC] }],
      })
    }
    // The rest: filters on contracts the blocks never touch, 10 per interest.
    const interests = Math.ceil(size / 10)
    for (let i = 0; i < interests; i++) {
      const filters = Array.from({ length: 10 }, (_, f) => ({
        id: id++,
        code: f % 2 ? 'all' : 'logs',
        args: f % 2 ? [] : [hex(f, 32)],
      }))
      index.setInterest({
        clientContractId: 1_000_000 + i,
        clientId: hex(i % 50_000, 20),
        address: hex(0x100000 + (i % 10_000), 20),
        filters,
      })
    }
    for (let warm = 0; warm < 3; warm++) index.match(blocks)
    const runs = 10
    let matches = 0
    const started = performance.now()
    for (let r = 0; r < runs; r++) matches = index.match(blocks).length
    const msPerBlock = (performance.now() - started) / runs / blocks.length
    figures[`msPerBlockWith${label(size)}Filters`] = Math.round(msPerBlock * 1000) / 1000
    figures[`matchesPerBlockWith${label(size)}Filters`] = matches / blocks.length
  }
  const base = figures[`msPerBlockWith${label(sizes[0]!)}Filters`]!
  figures.ratio1MTo1k = Math.round((figures.msPerBlockWith1MFilters! / base) * 100) / 100
  return figures
}

const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`)

function block(b: number): FetchedBlock {
  const hash = hex(b + 1, 32)
  const transactions = []
  const receipts: RpcReceipt[] = []
  for (let t = 0; t < 200; t++) {
    const token = hex(0x1000 + ((b * 200 + t) % 1000), 20)
    transactions.push({
      hash: hex(b * 1000 + t, 32),
      from: hex(t, 20),
      to: token,
      input: '0xa9059cbb' as Hex,
      value: '0x0' as Hex,
      nonce: '0x0' as Hex,
      gas: '0x0' as Hex,
      transactionIndex: hex(t, 1),
      blockHash: hash,
      blockNumber: hex(b, 8),
    })
    receipts.push({
      transactionHash: hex(b * 1000 + t, 32),
      transactionIndex: hex(t, 1),
      blockHash: hash,
      blockNumber: hex(b, 8),
      from: hex(t, 20),
      to: token,
      contractAddress: null,
      cumulativeGasUsed: '0x0' as Hex,
      gasUsed: '0x0' as Hex,
      logsBloom: '0x' as Hex,
      status: '0x1' as Hex,
      logs: [0, 1].map((l) => ({
        address: token,
        topics: [TRANSFER_TOPIC as Hex, hex(t, 32), hex(t + 1, 32)],
        data: hex(1, 32),
        blockNumber: hex(b, 8),
        blockHash: hash,
        transactionHash: hex(b * 1000 + t, 32),
        transactionIndex: hex(t, 1),
        logIndex: hex(t * 2 + l, 2),
      })),
    })
  }
  return { block: { hash, number: hex(b, 8), transactions } as unknown as RpcBlock, receipts }
}
