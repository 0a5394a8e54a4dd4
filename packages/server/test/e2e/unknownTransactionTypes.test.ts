import type { ProofVerificationError, WalletBackendError } from '@wallet-backend/sdk'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Follower } from '../../src/chain/follower/Follower.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployTransferEmitter, sendTransfer, waitForReceipt } from '../support/chainActivity.js'
import { type FaultyNode, startFaultyNode } from '../support/faultyNode.js'
import { openTestStorage } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

/**
 * anvil mines no Arbitrum Nitro transaction, so a proxy in front of it presents the transactions
 * of one sender as type 0x64 (an Arbitrum deposit): a type the backend has no encoding for. The
 * header is untouched and still hashes right; only the transactions cannot be checked.
 */
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
let anvil: TestAnvil
let faulty: FaultyNode
let accounts: Hex[]
let foreignSender: Hex

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: ProofVerificationError | WalletBackendError) => error.code,
  )

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = await anvil.accounts()
  foreignSender = accounts[3]!.toLowerCase() as Hex
  faulty = await startFaultyNode(anvil.node.httpUrl)
  faulty.tamper = (message, answer) => {
    if (message.method !== 'eth_getBlockByNumber' || message.params[1] !== true) return
    const block = answer.result as { transactions: { from: string; type: Hex }[] } | null
    const foreign = block?.transactions.filter((tx) => tx.from.toLowerCase() === foreignSender) ?? []
    if (foreign.length === 0) return
    for (const tx of foreign) tx.type = '0x64'
    return answer
  }
})

afterAll(async () => {
  await faulty?.close()
  await anvil?.stop()
})

describe('blocks with transaction types the backend cannot check', () => {
  let trusting: TestBackend
  let token: Hex
  let foreignBlock: { number: number; hash: Hex }

  beforeAll(async () => {
    trusting = await startBackend(anvil, {
      'node-url': [faulty.url],
      'unknown-transaction-types': 'trust-node',
    })
    token = await deployTransferEmitter(anvil)
    await trusting.synced()
  })

  afterAll(async () => {
    await trusting?.stop()
  })

  it('trust-node: stores them marked as not verified, says so in /health and metrics, and proves nothing of them', async () => {
    const c = trusting.client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
    const hash = await sendTransfer(anvil, token, foreignSender, accounts[1]!, 5n)
    const receipt = await anvil.rpc<{ blockNumber: Hex; blockHash: Hex }>('eth_getTransactionReceipt', [hash])
    foreignBlock = { number: Number(receipt.blockNumber), hash: receipt.blockHash }
    const [item] = await trusting.atLeast(c, 1)
    expect(item!.block!.hash).toBe(foreignBlock.hash)

    expect((await c.block(foreignBlock.hash)).verified).toBe(false)
    expect(await code(c.verifyItem(item!))).toBe('BLOCK_NOT_VERIFIED')
    expect(await code(c.receiptProof(foreignBlock.hash, 0))).toBe('BLOCK_NOT_VERIFIED')
    expect(await code(c.transactionProof(foreignBlock.hash, 0))).toBe('BLOCK_NOT_VERIFIED')

    const chain = trusting.service.health().chain as Record<string, unknown>
    expect(chain.unknownTransactionTypes).toBe('trust-node')
    expect(chain.unverifiedBlocks).toBe(1)
    expect(chain.lastUnverified).toEqual({ ...foreignBlock, types: ['0x64'] })
    const counted = await trusting.service.metrics
      .getSingleMetric('wallet_backend_chain_unverified_blocks_total')!
      .get()
    expect(counted.values).toEqual([expect.objectContaining({ labels: { type: '0x64' }, value: 1 })])

    // A block of known types after it is checked and proven as ever.
    await sendTransfer(anvil, token, accounts[2]!, accounts[1]!, 6n)
    const items = await trusting.atLeast(c, 2)
    const verified = items[1]!
    expect((await c.block(verified.block!.hash)).verified).toBe(true)
    await expect(c.verifyItem(verified)).resolves.toMatchObject({ hash: verified.block!.hash })
  })
})

describe('the default policy', () => {
  it('refuse (the default): stores nothing of such a block and stops below it, naming the setting', async () => {
    // A block of its own with a transaction of the foreign sender.
    const hash = await anvil.rpc<Hex>('eth_sendTransaction', [
      { from: foreignSender, to: accounts[1], value: '0x1' },
    ])
    await waitForReceipt(anvil, hash)
    const foreignBlock = Number(
      (await anvil.rpc<{ blockNumber: Hex }>('eth_getTransactionReceipt', [hash])).blockNumber,
    )
    const storage = await openTestStorage('pglite')
    const rpc = new RpcClient({ urls: [faulty.url], timeoutMs: 2000, logger })
    const metrics = new Registry()
    const follower = new Follower({
      db: storage.db,
      node: rpc,
      listener: { blocksAdded: async () => {}, blocksRemoved: async () => {} },
      logger,
      metrics,
      pollIntervalMs: 50,
      // From just below it: earlier blocks of this file may hold such types too.
      startBlock: foreignBlock - 1,
      confirmations: 5,
      batchSize: 1,
      retainFinalizedBlocks: 1000,
    })
    try {
      await follower.start()
      await waitUntil(
        () => /type 0x64/.test(follower.snapshot().lastError ?? ''),
        20_000,
        'the refusal of the block with a type 0x64',
      )
      expect(follower.snapshot().unknownTransactionTypes).toBe('refuse')
      expect(follower.snapshot().lastError).toMatch(/--unknown-transaction-types trust-node/)
      expect(follower.snapshot().head?.number).toBe(foreignBlock - 1)
      expect(await metrics.metrics()).toMatch(/wallet_backend_chain_inconsistent_data_total [1-9]/)
      const stored = await storage.db
        .selectFrom('blocks')
        .select('number')
        .where('number', '>=', foreignBlock)
        .execute()
      expect(stored).toEqual([])
    } finally {
      await follower.stop()
      await rpc.close()
      await storage.close()
    }
  })
})
