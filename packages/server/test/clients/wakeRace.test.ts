import { pino } from 'pino'
import { Registry } from 'prom-client'
import { type Hex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type ChainListener, combineListeners } from '../../src/chain/follower/ChainListener.js'
import { Follower } from '../../src/chain/follower/Follower.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { putInterest } from '../../src/clients/interests/interestStore.js'
import { makeDormant, wakeClient } from '../../src/clients/lifecycle/clientStages.js'
import { StateWatcher } from '../../src/contract-state/StateWatcher.js'
import { WatchIndex } from '../../src/contract-state/WatchIndex.js'
import { DeliveryListener } from '../../src/delivery/DeliveryListener.js'
import { DeliveryQueue } from '../../src/delivery/DeliveryQueue.js'
import { Deployments } from '../../src/delivery/Deployments.js'
import { Notifier } from '../../src/delivery/Notifier.js'
import { FilterIndex } from '../../src/filters/FilterIndex.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { insertTestClient } from '../support/deliveryPipeline.js'
import { openTestStorage } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

let anvil: TestAnvil
let storage: Storage
let rpc: RpcClient
let follower: Follower

/** A listener after the delivery listener that, once armed, holds the batch's transaction open. */
function gate() {
  let armed = false
  let reached = false
  let open: () => void = () => {}
  const listener: ChainListener = {
    async blocksAdded() {
      if (!armed) return
      armed = false
      reached = true
      await new Promise<void>((resolve) => {
        open = resolve
      })
    },
    async blocksRemoved() {},
  }
  return {
    listener,
    arm: () => {
      armed = true
      reached = false
    },
    reached: () => reached,
    open: () => open(),
  }
}

beforeAll(async () => {
  anvil = await startAnvil()
  storage = await openTestStorage('pglite')
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 5000, logger })
})

afterAll(async () => {
  await follower?.stop()
  await rpc?.close()
  await storage?.close()
  await anvil?.stop()
})

it('a dormant client woken while a block is being stored gets that block in its gap or its matches', async () => {
  const [sender, receiver] = await anvil.accounts()
  const token = await deployTransferEmitter(anvil)
  const { db } = storage
  const clientId = privateKeyToAccount(`0x${'42'.repeat(32)}`).address.toLowerCase() as Hex
  await insertTestClient(db, clientId)

  const metrics = new Registry()
  const filters = await FilterIndex.load(db)
  const watches = await WatchIndex.load(db)
  const queue = new DeliveryQueue({
    db,
    notifier: new Notifier(storage),
    logger,
    metrics,
    onDormant: (ids) => {
      for (const id of ids) {
        filters.removeClient(id)
        watches.removeClient(id)
      }
    },
  })
  const deployments = new Deployments()
  const contractState = new StateWatcher({
    db,
    node: rpc,
    index: watches,
    queue,
    deployments,
    logger,
    metrics,
  })
  const delivery = new DeliveryListener({ filters, queue, deployments, producers: [contractState], logger })
  const hold = gate()
  follower = new Follower({
    db,
    node: rpc,
    listener: combineListeners([delivery, hold.listener]),
    logger,
    metrics,
    pollIntervalMs: 50,
    startBlock: 0,
    confirmations: 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
  })
  const runtime = { db, filters, queue, contractState, follower }
  await contractState.start(follower)
  await follower.start()
  await follower.waitForHead(await anvil.blockNumber())
  delivery.setPosition(follower.snapshot().head!.number)

  const { stored } = await putInterest(db, hexToBytes(clientId), token, {
    filters: [{ code: 'logs', args: [TRANSFER] }],
    watches: [],
    startBlock: null,
    abi: null,
    maxInterests: 10,
  })
  filters.setInterest(stored)
  expect(await makeDormant(runtime, clientId)).toBe(true)
  const dormantFrom = follower.snapshot().head!.number + 1

  // A transfer while dormant; its block is being stored (its transaction open) as the client returns.
  hold.arm()
  await sendTransfer(anvil, token, sender!, receiver!, 1n)
  const missed = await anvil.blockNumber()
  follower.poke()
  await waitUntil(() => hold.reached(), 10_000, 'the batch of the missed block')
  const woken = wakeClient(runtime, clientId)
  hold.open()
  await woken
  await follower.waitForHead(missed)

  // The next transfer comes after the client is back: it is matched.
  await sendTransfer(anvil, token, sender!, receiver!, 2n)
  const after = await anvil.blockNumber()
  await follower.waitForHead(after)

  const items = await db
    .selectFrom('client_deliveries')
    .select(['kind', 'block_number', 'payload'])
    .where('client_id', '=', hexToBytes(clientId))
    .orderBy('cursor')
    .execute()
  // Every block from the one it went dormant at is either in the gap or matched: the missed one too.
  expect(items.map((i) => [i.kind, i.block_number, i.kind === 'gap' ? i.payload : null])).toEqual([
    ['gap', null, { fromBlock: dormantFrom, toBlock: missed }],
    ['log', after, null],
  ])
})
