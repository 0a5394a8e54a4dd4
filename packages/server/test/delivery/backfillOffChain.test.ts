import { pino } from 'pino'
import { Registry } from 'prom-client'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Follower } from '../../src/chain/follower/Follower.js'
import type { NodeClient } from '../../src/chain/NodeClient.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { putInterest } from '../../src/clients/interests/interestStore.js'
import { BackfillRunner } from '../../src/delivery/backfill/BackfillRunner.js'
import { DeliveryListener } from '../../src/delivery/DeliveryListener.js'
import { DeliveryQueue } from '../../src/delivery/DeliveryQueue.js'
import { Deployments } from '../../src/delivery/Deployments.js'
import { Notifier } from '../../src/delivery/Notifier.js'
import { FilterIndex } from '../../src/filters/FilterIndex.js'
import { BackgroundTasks } from '../../src/lifecycle/BackgroundTasks.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { openTestStorage } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

let anvil: TestAnvil
let storage: Storage
let rpc: RpcClient
let follower: Follower
let backfills: BackfillRunner

beforeAll(async () => {
  anvil = await startAnvil()
  storage = await openTestStorage('pglite')
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 5000, logger })
})

afterAll(async () => {
  await backfills?.stop()
  await follower?.stop()
  await rpc?.close()
  await storage?.close()
  await anvil?.stop()
})

/** The node as the back-fill sees it, counting the reads of one block by number. */
function countingReadsOf(node: NodeClient, watched: () => number | undefined) {
  let reads = 0
  const counted = new Proxy(node, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (key !== 'request' && key !== 'batch')
        return typeof value === 'function' ? value.bind(target) : value
      return (...args: unknown[]) => {
        const calls = key === 'request' ? [{ method: args[0], params: args[1] }] : (args[0] as unknown[])
        const tag = watched()
        for (const call of calls as { method: string; params?: unknown[] }[]) {
          if (
            call.method === 'eth_getBlockByNumber' &&
            tag !== undefined &&
            call.params?.[0] === `0x${tag.toString(16)}`
          )
            reads += 1
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { node: counted, reads: () => reads }
}

it('a back-fill never queues items of a block the follower has not stored at its height', async () => {
  const [sender, receiver] = await anvil.accounts()
  const token = await deployTransferEmitter(anvil)
  const deployedAt = await anvil.blockNumber()
  const { db } = storage
  const clientId = privateKeyToAccount(`0x${'43'.repeat(32)}`).address.toLowerCase() as Hex
  await db
    .insertInto('clients')
    .values({ id: hexToBytes(clientId) })
    .execute()
  await db
    .insertInto('client_usage')
    .values({ client_id: hexToBytes(clientId) })
    .execute()

  const metrics = new Registry()
  const filters = await FilterIndex.load(db)
  const queue = new DeliveryQueue({
    db,
    notifier: new Notifier(storage),
    logger,
    metrics,
    onDormant: () => {},
  })
  const delivery = new DeliveryListener({
    filters,
    queue,
    deployments: new Deployments(),
    producers: [],
    logger,
  })
  follower = new Follower({
    db,
    node: rpc,
    listener: delivery,
    logger,
    metrics,
    pollIntervalMs: 50,
    startBlock: 0,
    confirmations: 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
  })

  // Branch Y: the follower stores a transfer at height h, then stops following.
  const fork = await anvil.snapshot()
  await sendTransfer(anvil, token, sender!, receiver!, 1n)
  const h = await anvil.blockNumber()
  await follower.start()
  await follower.waitForHead(h)
  delivery.setPosition(h)
  await follower.stop()

  // Branch X: the node replaces h with another transfer the follower never sees.
  await anvil.revert(fork)
  const forkAgain = await anvil.snapshot()
  await sendTransfer(anvil, token, sender!, receiver!, 2n)
  expect(await anvil.blockNumber()).toBe(h)

  const reads = countingReadsOf(rpc, () => h)
  backfills = new BackfillRunner({
    db,
    node: reads.node,
    follower,
    delivery,
    queue,
    tasks: new BackgroundTasks({ logger, metrics }),
    logger,
  })
  const { stored } = await putInterest(db, hexToBytes(clientId), token, {
    filters: [{ code: 'logs', args: [TRANSFER] }],
    watches: [],
    startBlock: deployedAt,
    abi: null,
    maxInterests: 10,
  })
  const job = await db
    .insertInto('backfill_jobs')
    .values({
      client_contract_id: stored.clientContractId,
      from_block: deployedAt,
      to_block: h,
      next_block: deployedAt,
      status: 'pending',
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  backfills.submit(job.id)
  const nextBlock = async () =>
    (
      await db
        .selectFrom('backfill_jobs')
        .select('next_block')
        .where('id', '=', job.id)
        .executeTakeFirstOrThrow()
    ).next_block
  // The back-fill has dealt with X's block: queued it (and moved on), or read it twice (refused, retried).
  await waitUntil(async () => (await nextBlock()) > h || reads.reads() >= 2, 20_000, 'a turn over block h')

  // Branch Z: the node moves on again; the follower returns and follows it.
  await anvil.revert(forkAgain)
  await sendTransfer(anvil, token, sender!, receiver!, 3n)
  await anvil.mine(1)
  const head = await anvil.blockNumber()
  await follower.start()
  await follower.waitForHead(head)
  await waitUntil(
    async () =>
      (
        await db
          .selectFrom('backfill_jobs')
          .select('status')
          .where('id', '=', job.id)
          .executeTakeFirstOrThrow()
      ).status === 'done',
    20_000,
    'the back-fill handed over to live matching',
  )
  await follower.waitForHead(head)

  const items = await db
    .selectFrom('client_deliveries as d')
    .leftJoin('blocks as b', 'b.hash', 'd.block_hash')
    .select(['d.kind', 'd.block_number', 'd.block_hash', 'b.canonical'])
    .where('d.client_id', '=', hexToBytes(clientId))
    .orderBy('d.cursor')
    .execute()
  const logs = await anvil.rpc<{ blockHash: Hex }[]>('eth_getLogs', [
    { address: token, fromBlock: `0x${deployedAt.toString(16)}`, toBlock: 'latest' },
  ])
  // Exactly the final chain's transfers: nothing of X, held off the stored chain and never withdrawn.
  expect(items.map((i) => [i.kind, i.block_hash && bytesToHex(i.block_hash), i.canonical])).toEqual(
    logs.map((log) => ['log', log.blockHash, true]),
  )
})
