import { pino } from 'pino'
import { Registry } from 'prom-client'
import { getContractAddress, type Hex, hexToBytes } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { combineListeners } from '../../src/chain/follower/ChainListener.js'
import { Follower } from '../../src/chain/follower/Follower.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { listInterests, putInterest } from '../../src/clients/interests/interestStore.js'
import { StateWatcher } from '../../src/contract-state/StateWatcher.js'
import { WatchIndex } from '../../src/contract-state/WatchIndex.js'
import { DeliveryListener } from '../../src/delivery/DeliveryListener.js'
import { DeliveryQueue } from '../../src/delivery/DeliveryQueue.js'
import { DeploymentSweeper } from '../../src/delivery/DeploymentSweeper.js'
import { Deployments } from '../../src/delivery/Deployments.js'
import { Notifier } from '../../src/delivery/Notifier.js'
import { FilterIndex } from '../../src/filters/FilterIndex.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { CREATE2_FACTORY_INIT, deploy, waitForReceipt } from '../support/chainActivity.js'
import { insertTestClient } from '../support/deliveryPipeline.js'
import { openTestStorage } from '../support/storage.js'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
/** Init code of a child whose constructor emits nothing: no receipt and no log names it. */
const childInit = (topicByte: string) => `0x6025600a5f3960255ff37f${topicByte.repeat(32)}5f5fa100` as Hex

let anvil: TestAnvil
let storage: Storage
let rpc: RpcClient
let follower: Follower
let contractState: StateWatcher
let deployments: Deployments
let sweeper: DeploymentSweeper
let factory: Hex
let deployer: Hex
const clientId = `0x${'5e'.repeat(20)}` as Hex

beforeAll(async () => {
  anvil = await startAnvil()
  storage = await openTestStorage('pglite')
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 5000, logger })
  deployer = (await anvil.accounts())[8]!
  factory = await deploy(anvil, CREATE2_FACTORY_INIT, deployer)
  const { db } = storage
  await insertTestClient(db, clientId)
  const metrics = new Registry()
  const filters = await FilterIndex.load(db)
  const queue = new DeliveryQueue({ db, notifier: new Notifier(storage), logger, metrics })
  deployments = new Deployments()
  contractState = new StateWatcher({
    db,
    node: rpc,
    index: await WatchIndex.load(db),
    queue,
    deployments,
    logger,
    metrics,
  })
  const delivery = new DeliveryListener({ filters, queue, deployments, producers: [contractState], logger })
  follower = new Follower({
    db,
    node: rpc,
    listener: combineListeners([delivery, contractState]),
    logger,
    metrics,
    pollIntervalMs: 50,
    startBlock: 0,
    confirmations: 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
  })
  sweeper = new DeploymentSweeper({ node: rpc, follower, queue, deployments, logger, intervalMs: 60_000 })
  await contractState.start(follower)
  await follower.start()
  await follower.waitForHead(await anvil.blockNumber())
  delivery.setPosition(follower.snapshot().head!.number)
})

afterAll(async () => {
  await follower?.stop()
  await rpc?.close()
  await storage?.close()
  await anvil?.stop()
})

/** An interest in the CREATE2 child of `init`, not deployed yet; returns the child's address. */
async function interestInChild(init: Hex, watches: { kind: string; args: unknown[] }[]): Promise<Hex> {
  const child = getContractAddress({
    opcode: 'CREATE2',
    from: factory,
    salt: `0x${'00'.repeat(32)}`,
    bytecode: init,
  })
  const { watched } = await putInterest(storage.db, hexToBytes(clientId), child, {
    filters: [],
    watches,
    startBlock: null,
    abi: null,
    maxInterests: 10,
  })
  deployments.watch(child)
  contractState.setInterest(watched)
  await contractState.settled()
  return child.toLowerCase() as Hex
}

/** Deploys the child of `init` through the factory; returns the block it was deployed at. */
async function deployChild(init: Hex): Promise<number> {
  // Explicit gas: the factory ignores a failed CREATE2, so an estimate may leave the child none.
  const hash = await anvil.rpc<string>('eth_sendTransaction', [
    { from: deployer, to: factory, data: init, gas: '0x7a120' },
  ])
  await waitForReceipt(anvil, hash)
  return anvil.blockNumber()
}

async function itemsOf(address: Hex) {
  const rows = await storage.db
    .selectFrom('client_deliveries as d')
    .innerJoin('client_contracts as i', 'i.id', 'd.client_contract_id')
    .select(['d.kind', 'd.block_number', 'd.payload'])
    .where('d.client_id', '=', hexToBytes(clientId))
    .where('i.address', '=', hexToBytes(address))
    .orderBy('d.cursor')
    .execute()
  return rows.map((row) => ({
    kind: row.kind,
    block: row.block_number,
    payload: row.payload as Record<string, unknown>,
  }))
}

async function recorded(address: Hex) {
  return storage.db
    .selectFrom('deployed_contracts')
    .select(['is_deployed', 'deployed_block_number'])
    .where('address', '=', hexToBytes(address))
    .executeTakeFirstOrThrow()
}

describe('a CREATE2 child deployed without a receipt or a log naming it', () => {
  it('is deployed at the block its code appeared at, once, for the state watcher and the code sweep alike', async () => {
    const init = childInit('aa')
    const child = await interestInChild(init, [{ kind: 'codeHash', args: [] }])
    const deployedAt = await deployChild(init)
    await follower.waitForHead(deployedAt)

    // The batch that read the code recorded the deployment, with its `deployed` item, at its block.
    expect(await recorded(child)).toEqual({ is_deployed: true, deployed_block_number: deployedAt })
    expect((await listInterests(storage.db, hexToBytes(clientId), child))[0]?.deployed).toBe(true)
    const items = await itemsOf(child)
    expect(items.map((i) => [i.kind, i.block, i.payload.reason ?? i.payload.detectedBy])).toEqual([
      ['state', deployedAt - 1, 'initial'],
      ['deployed', deployedAt, 'state'],
      ['state', deployedAt, 'deployed'],
    ])

    // A later sweep finds the deployment recorded: no second `deployed`, no later block.
    await anvil.rpc('evm_mine', [])
    await follower.waitForHead(deployedAt + 1)
    expect(await sweeper.sweep()).toBe(0)
    expect(await itemsOf(child)).toEqual(items)
    expect(await recorded(child)).toEqual({ is_deployed: true, deployed_block_number: deployedAt })
  })

  it('found by the code sweep blocks later, is deployed at the block its code appeared at', async () => {
    const init = childInit('bb')
    const child = await interestInChild(init, [])
    // A sweep before the deployment: the next one searches from its head on.
    await sweeper.sweep()
    const deployedAt = await deployChild(init)
    await anvil.rpc('anvil_mine', ['0x3'])
    await follower.waitForHead(deployedAt + 3)
    expect(await itemsOf(child)).toEqual([])

    expect(await sweeper.sweep()).toBe(1)
    expect(await recorded(child)).toEqual({ is_deployed: true, deployed_block_number: deployedAt })
    expect((await itemsOf(child)).map((i) => [i.kind, i.block, i.payload.detectedBy])).toEqual([
      ['deployed', deployedAt, 'code'],
    ])
  })
})
