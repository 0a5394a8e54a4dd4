import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterEach, expect, it } from 'vitest'
import { Follower } from '../../src/chain/follower/Follower.js'
import type { NodeClient, RpcCall } from '../../src/chain/NodeClient.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { openTestStorage } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

let anvil: TestAnvil | undefined
let storage: Storage | undefined
let rpc: RpcClient | undefined
let follower: Follower | undefined

afterEach(async () => {
  await follower?.stop()
  await rpc?.close()
  await storage?.close()
  await anvil?.stop()
})

/** A node client that counts the head polls (calls for the `latest` block) going through it. */
function countingHeadPolls(inner: NodeClient): NodeClient & { headPolls: number } {
  const isHeadPoll = (call: RpcCall) => call.method === 'eth_getBlockByNumber' && call.params[0] === 'latest'
  const counting = {
    headPolls: 0,
    request<T>(method: string, params: unknown[], options?: { timeoutMs?: number }) {
      if (isHeadPoll({ method, params })) counting.headPolls++
      return inner.request<T>(method, params, options)
    },
    batch<T>(calls: RpcCall[]) {
      if (calls.some(isHeadPoll)) counting.headPolls++
      return inner.batch<T>(calls)
    },
  }
  return counting
}

it('follows anvil mining every second over HTTP with a bounded number of head polls per block', async () => {
  anvil = await startAnvil({ blockTimeSeconds: 1 })
  storage = await openTestStorage('pglite')
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 2000, logger })
  const node = countingHeadPolls(rpc)
  const stored: number[] = []
  follower = new Follower({
    db: storage.db,
    node,
    listener: {
      async blocksAdded(_trx, blocks) {
        for (const { block } of blocks) stored.push(Number(block.number))
      },
      async blocksRemoved() {},
    },
    logger,
    metrics: new Registry(),
    // The idle bound is the old fixed interval: polling as fast as it is never needed here.
    pollIntervalMs: 1_000,
    startBlock: 'latest',
    confirmations: 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
  })
  await follower.start()
  // A few blocks to learn the rhythm from, then count the polls over the next ones. Nothing here
  // pokes the follower: every poll is one its schedule chose.
  await waitUntil(() => stored.length >= 4, 30_000, 'four blocks stored')
  const from = { polls: node.headPolls, block: stored[stored.length - 1]! }
  await waitUntil(() => stored[stored.length - 1]! >= from.block + 6, 30_000, 'six more blocks stored')
  const blocks = stored[stored.length - 1]! - from.block
  const pollsPerBlock = (node.headPolls - from.polls) / blocks
  // About two with this schedule; a fixed 100 ms interval would make ten.
  expect(pollsPerBlock).toBeGreaterThanOrEqual(1)
  expect(pollsPerBlock).toBeLessThanOrEqual(4)
  // Every block was stored, in order, none skipped.
  expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => stored[0]! + i))
})
