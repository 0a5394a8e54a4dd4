import type { Hex } from 'viem'
import type { FetchedBlock } from '../src/chain/follower/fetchBlocks.js'
import type { RpcBlock, RpcReceipt } from '../src/chain/types.js'
import { AccountIndex } from '../src/filters/AccountIndex.js'
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
    Object.assign(
      figures,
      timeMatching(`${label(size)}Filters`, blocks, () => index.match(blocks).length),
    )
  }
  const base = figures[`msPerBlockWith${label(sizes[0]!)}Filters`]!
  figures.ratio1MTo1k = Math.round((figures.msPerBlockWith1MFilters! / base) * 100) / 100
  Object.assign(figures, matchAccounts(blocks, sizes))
  return figures
}

/**
 * The same blocks against account interests: 100 accounts that the blocks touch (as senders and
 * in transfer topics) plus 1k, 100k or 1M accounts they never touch. Account matching looks
 * addresses up by sender, recipient and address topics, so the time per block should not grow.
 */
function matchAccounts(blocks: readonly FetchedBlock[], sizes: readonly number[]): Record<string, number> {
  const figures: Record<string, number> = {}
  for (const size of sizes) {
    const index = new AccountIndex()
    for (let c = 0; c < 100; c++)
      index.set({
        accountId: c + 1,
        clientId: hex(c, 20),
        address: hex(c, 20),
        activity: ['native', 'tokens'],
      })
    for (let i = 0; i < size; i++)
      index.set({
        accountId: 1_000 + i,
        clientId: hex(i % 50_000, 20),
        address: hex(0x10000000 + i, 20),
        activity: ['native', 'tokens', 'approvals', 'userOps'],
      })
    Object.assign(
      figures,
      timeMatching(`${label(size)}Accounts`, blocks, () => index.match(blocks).length),
    )
  }
  const base = figures[`msPerBlockWith${label(sizes[0]!)}Accounts`]!
  figures.ratio1MTo1kAccounts = Math.round((figures.msPerBlockWith1MAccounts! / base) * 100) / 100
  return figures
}

/** ms per block and matches per block of `match` over `blocks`, after a warm-up, under `name`. */
function timeMatching(
  name: string,
  blocks: readonly FetchedBlock[],
  match: () => number,
): Record<string, number> {
  for (let warm = 0; warm < 3; warm++) match()
  const runs = 10
  let matches = 0
  const started = performance.now()
  for (let r = 0; r < runs; r++) matches = match()
  const msPerBlock = (performance.now() - started) / runs / blocks.length
  return {
    [`msPerBlockWith${name}`]: Math.round(msPerBlock * 1000) / 1000,
    [`matchesPerBlockWith${name}`]: matches / blocks.length,
  }
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
