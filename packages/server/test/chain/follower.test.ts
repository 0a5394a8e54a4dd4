import { pino } from 'pino'
import { Registry } from 'prom-client'
import { bytesToHex } from 'viem'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BlockRef, ChainListener } from '../../src/chain/follower/ChainListener.js'
import { Follower, type FollowerOptions, type FollowerStatus } from '../../src/chain/follower/Follower.js'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deployLogger, mineActivity } from '../support/chainActivity.js'
import { startFaultyNode } from '../support/faultyNode.js'
import { openTestStorage } from '../support/storage.js'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

type Tx = { input: string; transactionIndex: string }

type Recorder = ChainListener & { added: number[]; removed: BlockRef[]; addedLogs: number }

function recorder(): Recorder {
  const r: Recorder = {
    added: [],
    removed: [],
    addedLogs: 0,
    async blocksAdded(_trx, blocks) {
      for (const { block, receipts } of blocks) {
        r.added.push(Number(block.number))
        r.addedLogs += receipts.reduce((sum, receipt) => sum + receipt.logs.length, 0)
      }
    },
    async blocksRemoved(_trx, blocks) {
      r.removed.push(...blocks)
    },
  }
  return r
}

let anvil: TestAnvil
let storage: Storage
const clients: RpcClient[] = []
const followers: Follower[] = []

beforeEach(async () => {
  anvil = await startAnvil()
  storage = await openTestStorage('pglite')
})

afterEach(async () => {
  for (const follower of followers.splice(0)) await follower.stop()
  for (const client of clients.splice(0)) await client.close()
  await storage.close()
  await anvil.stop()
})

function follow(options: Partial<FollowerOptions> & { urls?: string[] } = {}) {
  const rpc = new RpcClient({ urls: options.urls ?? [anvil.node.httpUrl], timeoutMs: 2000, logger })
  clients.push(rpc)
  const listener = (options.listener as Recorder | undefined) ?? recorder()
  const statuses: FollowerStatus['kind'][] = []
  const metrics = new Registry()
  const follower = new Follower({
    db: storage.db,
    node: rpc,
    listener,
    logger,
    metrics,
    pollIntervalMs: 50,
    startBlock: 0,
    confirmations: 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
    ...options,
  })
  follower.onStatus((status) => statuses.push(status.kind))
  followers.push(follower)
  return { follower, listener: listener as Recorder, statuses, metrics, rpc }
}

/** Waits until the follower's head is the node's head, hash for hash. */
async function synced(follower: Follower, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const latest = await anvil.block('latest')
    if (follower.snapshot().head?.hash === latest.hash) return
    if (Date.now() > deadline) {
      throw new Error(
        `not synced: follower ${JSON.stringify(follower.snapshot().head)} node ${latest.number}`,
      )
    }
    follower.poke()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** The stored canonical chain equals the node's, hash by hash, with no gap. */
async function expectSameChain(from = 0): Promise<number> {
  const rows = await storage.db
    .selectFrom('blocks')
    .select(['number', 'hash', 'parent_hash'])
    .where('canonical', '=', true)
    .where('number', '>=', from)
    .orderBy('number')
    .execute()
  const head = await anvil.blockNumber()
  expect(rows.map((row) => row.number)).toEqual(Array.from({ length: head - from + 1 }, (_, i) => from + i))
  for (const row of rows) {
    const block = await anvil.block(row.number)
    expect(bytesToHex(row.hash), `block ${row.number}`).toBe(block.hash)
    expect(bytesToHex(row.parent_hash)).toBe(block.parentHash)
  }
  return rows.length
}

/**
 * Follows a chain with activity through a node proxy that corrupts (with `corrupt`) the answers to
 * `method` for the last block: the follower must refuse that block as inconsistent, with `error`,
 * and store nothing of it — then, with honest answers, follow the node's chain exactly.
 */
async function expectRefusedThenRecovered(method: string, corrupt: (result: never) => void, error: RegExp) {
  const target = await deployLogger(anvil)
  await mineActivity(anvil, target, 3, 2)
  const faulty = await startFaultyNode(anvil.node.httpUrl)
  try {
    const poisoned = await anvil.blockNumber()
    faulty.tamper = (message, answer) => {
      if (message.method !== method || message.params[0] !== `0x${poisoned.toString(16)}`) return
      corrupt(answer.result as never)
      return answer
    }
    const { follower, metrics } = follow({ urls: [faulty.url] })
    await follower.start()
    const deadline = Date.now() + 10_000
    while (!/inconsistent_data_total [1-9]/.test(await metrics.metrics()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(await metrics.metrics()).toMatch(/wallet_backend_chain_inconsistent_data_total [1-9]/)
    expect(follower.snapshot().lastError).toMatch(error)
    const stored = await storage.db
      .selectFrom('blocks')
      .select('number')
      .where('number', '=', poisoned)
      .execute()
    expect(stored).toEqual([])
    expect((follower.snapshot().head?.number ?? -1) < poisoned).toBe(true)
    faulty.tamper = undefined
    await synced(follower)
    await expectSameChain()
  } finally {
    await faulty.close()
  }
}

describe('Follower', () => {
  it('follows a linear chain with transactions and logs, verifying every block', async () => {
    const target = await deployLogger(anvil)
    await mineActivity(anvil, target, 12, 4)
    const { follower, listener, statuses } = follow()
    await follower.start()
    await synced(follower)
    await mineActivity(anvil, target, 5, 2)
    await synced(follower)
    expect(await expectSameChain()).toBe((await anvil.blockNumber()) + 1)
    expect(listener.added).toEqual(Array.from({ length: listener.added.length }, (_, i) => i))
    expect(listener.addedLogs).toBe(12 * 2 + 5 * 1)
    expect(listener.removed).toEqual([])
    expect(statuses).toContain('live')
    const { head, finalized, safe } = follower.snapshot()
    expect(finalized!.number).toBeLessThanOrEqual(safe!.number)
    expect(safe!.number).toBeLessThanOrEqual(head!.number)
  })

  for (const depth of [1, 2, 5, 30]) {
    it(`handles a reorg of depth ${depth} while following`, async () => {
      const target = await deployLogger(anvil)
      await mineActivity(anvil, target, depth + 5, 1)
      const { follower, listener, metrics } = follow()
      await follower.start()
      await synced(follower)
      const before = await anvil.block('latest')
      await anvil.reorg(depth)
      const after = await anvil.block('latest')
      expect(after.hash).not.toBe(before.hash)
      await synced(follower)
      await expectSameChain()
      expect(listener.removed).toHaveLength(depth)
      expect(listener.removed[0]?.hash).toBe(before.hash)
      expect(listener.removed.map((b) => b.number)).toEqual(
        Array.from({ length: depth }, (_, i) => Number(before.number) - i),
      )
      expect(await metrics.metrics()).toMatch(/wallet_backend_chain_reorgs_total 1/)
      // The abandoned blocks stay stored, marked non-canonical, until finality prunes them.
      const abandoned = await storage.db
        .selectFrom('blocks')
        .select('number')
        .where('canonical', '=', false)
        .execute()
      expect(abandoned.length).toBeLessThanOrEqual(depth)
    })
  }

  it('catches a reorg that happened while it was stopped', async () => {
    await anvil.mine(10)
    const first = follow()
    await first.follower.start()
    await synced(first.follower)
    await first.follower.stop()
    const before = await anvil.block('latest')
    await anvil.reorg(3)
    await anvil.mine(2)
    const second = follow()
    await second.follower.start()
    await synced(second.follower)
    await expectSameChain()
    expect(second.listener.removed.map((b) => b.hash)).toContain(before.hash)
    expect(second.listener.removed).toHaveLength(3)
  })

  it('resumes after a restart in the middle of catch-up with no gap and no duplicate', async () => {
    const target = await deployLogger(anvil)
    await mineActivity(anvil, target, 5, 2)
    await anvil.mine(300)
    const shared = recorder()
    const first = follow({ listener: shared, batchSize: 7 })
    await first.follower.start()
    await first.follower.waitForHead(100)
    await first.follower.stop()
    const stoppedAt = first.follower.snapshot().head!.number
    expect(stoppedAt).toBeLessThan(await anvil.blockNumber())
    const second = follow({ listener: shared, batchSize: 7 })
    await second.follower.start()
    await synced(second.follower)
    await expectSameChain()
    const head = await anvil.blockNumber()
    expect(shared.added).toEqual(Array.from({ length: head + 1 }, (_, i) => i))
  })

  it('goes node-unavailable when anvil dies and catches up with no missing block when it is back', async () => {
    await anvil.mine(5)
    const { follower, statuses } = follow()
    await follower.start()
    await synced(follower)
    // Let anvil write its state (every second here), so that the crash loses no block of its own.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await anvil.kill()
    const deadline = Date.now() + 10_000
    while (!statuses.includes('node-unavailable') && Date.now() < deadline) {
      follower.poke()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(statuses).toContain('node-unavailable')
    await anvil.restart()
    await anvil.mine(4)
    await synced(follower)
    expect(statuses.at(-1)).toBe('live')
    await expectSameChain()
  })

  it('raises an alarm and starts over when the node no longer has any stored block', async () => {
    await anvil.mine(5)
    const { follower, listener } = follow()
    await follower.start()
    await synced(follower)
    const port = anvil.node.port
    await anvil.stop()
    // Another genesis: nothing the follower stored exists on this node.
    anvil = await startAnvil({ port, extraArgs: ['--timestamp', '1000'] })
    await anvil.mine(3)
    await synced(follower)
    expect(follower.snapshot().alarm).toMatch(/no common ancestor/)
    expect(listener.removed.length).toBeGreaterThanOrEqual(6)
    await expectSameChain(follower.snapshot().head!.number)
  })

  it('follows through the second node URL when the first is dead', async () => {
    await anvil.mine(6)
    const dead = `http://127.0.0.1:${await freePort()}`
    const { follower, rpc } = follow({ urls: [dead, anvil.node.httpUrl] })
    await follower.start()
    await synced(follower)
    await expectSameChain()
    expect(rpc.status().map((s) => s.active)).toEqual([false, true])
  })

  it('refuses receipts that do not hash to receiptsRoot and stores nothing of that block', async () => {
    await expectRefusedThenRecovered(
      'eth_getBlockReceipts',
      (receipts: { logs: { data: string }[] }[]) => {
        receipts.find((r) => r.logs.length > 0)!.logs[0]!.data = '0x01'
      },
      /receiptsRoot/,
    )
  })

  it('refuses a changed transaction and stores nothing of that block', async () => {
    await expectRefusedThenRecovered(
      'eth_getBlockByNumber',
      (block: { transactions: Tx[] }) => {
        block.transactions[1]!.input = '0x01'
      },
      /encodes to hash/,
    )
  })

  it('refuses transactions in another order than transactionsRoot commits to', async () => {
    // Each transaction still hashes to its own hash: only the root tells the order is not the block's.
    await expectRefusedThenRecovered(
      'eth_getBlockByNumber',
      (block: { transactions: Tx[] }) => {
        const [first, second] = [block.transactions[0]!, block.transactions[1]!]
        block.transactions.splice(
          0,
          2,
          { ...second, transactionIndex: '0x0' },
          { ...first, transactionIndex: '0x1' },
        )
      },
      /transactionsRoot/,
    )
  })

  it('falls back to per-transaction receipts on a node without eth_getBlockReceipts', async () => {
    const target = await deployLogger(anvil)
    await mineActivity(anvil, target, 4, 3)
    const faulty = await startFaultyNode(anvil.node.httpUrl)
    try {
      faulty.tamper = (message, answer) =>
        message.method === 'eth_getBlockReceipts'
          ? {
              id: answer.id,
              error: { code: -32601, message: 'the method eth_getBlockReceipts does not exist' },
            }
          : undefined
      const { follower, listener } = follow({ urls: [faulty.url] })
      await follower.start()
      await synced(follower)
      await expectSameChain()
      expect(follower.snapshot().receiptsSource).toBe('eth_getTransactionReceipt')
      expect(faulty.calls.get('eth_getTransactionReceipt')).toBeGreaterThanOrEqual(4 * 3)
      expect(listener.addedLogs).toBe(4 * 2)
    } finally {
      await faulty.close()
    }
  })
})
