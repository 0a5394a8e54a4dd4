import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type {
  DeliveryItem,
  DeliveryItemOf,
  WalletBackendClient,
  WalletBackendError,
} from '@wallet-backend/sdk'
import { getAddress, getContractAddress, hexToBytes } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyProofOfWork } from '../../src/clients/auth/proofOfWork.js'
import type { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import {
  CREATE2_FACTORY_INIT,
  deployNftEmitter,
  deployTransferEmitter,
  sendTransfer,
  waitForReceipt,
} from '../support/chainActivity.js'

const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
let anvil: TestAnvil
let backend: TestBackend
let service: Service
let accounts: `0x${string}`[]

const client = () => backend.client()
const synced = () => backend.synced()
/** Small pages, so that paging is exercised too. */
const everything = (c: WalletBackendClient, after = 0): Promise<DeliveryItem[]> =>
  backend.everything(c, after, 7)

type GroundLog = { blockNumber: string; logIndex: string; transactionHash: string }
const logKey = (block: number | string, logIndex: number | string) => `${Number(block)}:${Number(logIndex)}`

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = await anvil.accounts()
  backend = await startBackend(anvil, { 'deployment-sweep-ms': '200' })
  service = backend.service
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

describe('clients, interests and deliveries (through the SDK, on anvil)', () => {
  it('signs in with a proof of work the first time only', async () => {
    const c = client()
    expect(await c.signIn()).toEqual({ clientId: c.clientId, registered: true })
    expect(await c.signIn()).toEqual({ clientId: c.clientId, registered: false })
    expect(verifyProofOfWork('n', c.clientId, '0', 0)).toBe(true)
  })

  it('delivers exactly each client’s matches, compared with eth_getLogs on the node', async () => {
    const tokenA = await deployTransferEmitter(anvil)
    const tokenB = await deployTransferEmitter(anvil)
    await synced() // the deployments are history: interests registered now see what comes after
    const [alice, bob, carol] = [client(), client(), client()]
    await Promise.all([alice.signIn(), bob.signIn(), carol.signIn()])
    const watched = accounts[1]!
    // alice: transfers of token A to or from one account; bob: every log of both tokens; carol: token B calls.
    await alice.putInterest(tokenA, { filters: [{ code: 'transfers', args: [watched, 'any'] }] })
    await bob.putInterest(tokenA, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    await bob.putInterest(tokenB, { filters: [{ code: 'all', args: [] }] })
    await carol.putInterest(tokenB, { filters: [{ code: 'value', args: ['1'] }] })
    const from = await anvil.blockNumber()
    for (let i = 0; i < 6; i++) {
      await sendTransfer(anvil, tokenA, accounts[i % 3]!, accounts[(i + 1) % 4]!, BigInt(i + 1))
      await sendTransfer(anvil, tokenB, accounts[2]!, accounts[3]!, 7n)
    }
    await waitForReceipt(
      anvil,
      await anvil.rpc('eth_sendTransaction', [{ from: accounts[4], to: tokenB, value: '0x5' }]),
    )
    await synced()
    const to = await anvil.blockNumber()
    const range = { fromBlock: `0x${(from + 1).toString(16)}`, toBlock: `0x${to.toString(16)}` }
    const logsA = await anvil.rpc<GroundLog[]>('eth_getLogs', [{ ...range, address: tokenA }])
    const watchedTopic = `0x${watched.slice(2).toLowerCase().padStart(64, '0')}`
    const aliceTruth = (
      await anvil.rpc<(GroundLog & { topics: string[] })[]>('eth_getLogs', [{ ...range, address: tokenA }])
    ).filter((log) => log.topics[1] === watchedTopic || log.topics[2] === watchedTopic)
    const logsB = await anvil.rpc<GroundLog[]>('eth_getLogs', [{ ...range, address: tokenB }])

    const aliceItems = await everything(alice)
    expect(aliceItems.map((i) => i.kind)).toEqual(aliceTruth.map(() => 'log'))
    expect(aliceItems.map((i) => logKey(i.block!.number, i.logIndex!))).toEqual(
      aliceTruth.map((l) => logKey(l.blockNumber, l.logIndex)),
    )
    expect(aliceItems.length).toBeGreaterThan(0)
    expect(
      aliceItems.every(
        (i) => i.interest === tokenA.toLowerCase() && i.kind === 'log' && i.log?.topics[0] === TRANSFER,
      ),
    ).toBe(true)

    const bobItems = await everything(bob)
    const bobLogs = bobItems.filter((i) => i.kind === 'log').map((i) => logKey(i.block!.number, i.logIndex!))
    expect(bobLogs).toEqual(
      [...logsA, ...logsB]
        .sort(
          (x, y) => Number(x.blockNumber) - Number(y.blockNumber) || Number(x.logIndex) - Number(y.logIndex),
        )
        .map((l) => logKey(l.blockNumber, l.logIndex)),
    )
    // "all" on token B also delivers the transactions to it: 6 transfers and the value transfer.
    expect(bobItems.filter((i) => i.kind === 'tx').map((i) => i.txHash)).toHaveLength(7)
    // Cursors only grow, items come in chain order.
    const cursors = bobItems.map((i) => i.cursor)
    expect(cursors).toEqual([...cursors].sort((x, y) => x - y))

    const carolItems = await everything(carol)
    expect(carolItems).toHaveLength(1)
    expect(carolItems[0]).toMatchObject({ kind: 'tx', interest: tokenB.toLowerCase() })
    expect((carolItems[0] as DeliveryItemOf<'tx'>).tx?.value).toBe('0x5')
    expect(carolItems[0]!.confirmations).toBeGreaterThanOrEqual(1)
  })

  it('delivers ERC-721 transfers to and from a holder, compared with eth_getLogs', async () => {
    const nft = await deployNftEmitter(anvil)
    await synced()
    const holder = accounts[3]!
    const c = client()
    await c.putInterest(nft, { filters: [{ code: 'transfers', args: [holder, 'any'] }] })
    const from = await anvil.blockNumber()
    for (let tokenId = 1; tokenId <= 6; tokenId++) {
      const sender = accounts[tokenId % 2 === 0 ? 3 : 4]!
      const recipient = accounts[tokenId % 3 === 0 ? 3 : 5]!
      const data = `0x${recipient.slice(2).padStart(64, '0')}${tokenId.toString(16).padStart(64, '0')}`
      await waitForReceipt(
        anvil,
        await anvil.rpc<string>('eth_sendTransaction', [{ from: sender, to: nft, data }]),
      )
    }
    await synced()
    const holderTopic = `0x${holder.slice(2).toLowerCase().padStart(64, '0')}`
    const truth = (
      await anvil.rpc<(GroundLog & { topics: string[] })[]>('eth_getLogs', [
        { fromBlock: `0x${(from + 1).toString(16)}`, toBlock: 'latest', address: nft },
      ])
    ).filter((log) => log.topics[1] === holderTopic || log.topics[2] === holderTopic)
    expect(truth.length).toBe(4) // tokens 2, 4, 6 sent by the holder; 3 received (6 both ways, one log)
    const items = await everything(c)
    expect(items.map((i) => logKey(i.block!.number, i.logIndex!))).toEqual(
      truth.map((l) => logKey(l.blockNumber, l.logIndex)),
    )
    expect(items.every((i) => i.kind === 'log' && i.log?.topics.length === 4)).toBe(true)
  })

  it('never re-sends what was acknowledged, and re-sends what was not', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    await c.putInterest(token, { filters: [{ code: 'all', args: [] }] })
    for (let i = 0; i < 4; i++) await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    await synced()
    const first = await everything(c)
    expect(first).toHaveLength(8) // 4 transactions and their 4 logs
    const acked = first[3]!.cursor
    await c.ack(acked)
    const again = await everything(c)
    expect(again.map((i) => i.cursor)).toEqual(first.slice(4).map((i) => i.cursor))
    // Asking from 0 does not bring acknowledged items back either.
    expect((await c.deliveries({ after: 0 })).items.every((i) => i.cursor > acked)).toBe(true)
    await expect(c.ack(first.at(-1)!.cursor + 100)).rejects.toMatchObject({
      code: 'CURSOR_OUT_OF_RANGE',
      status: 400,
    })
  })

  it('streams in order over a WebSocket and resumes from the last cursor after a reconnect', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    const received: number[] = []
    const stream = c.stream({ onItem: (item) => void received.push(item.cursor) })
    for (let i = 0; i < 3; i++) await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    const wait = async (n: number) => {
      const deadline = Date.now() + 15_000
      while (received.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
      expect(received.length).toBeGreaterThanOrEqual(n)
    }
    await wait(3)
    stream.close()
    for (let i = 0; i < 2; i++) await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    await synced()
    const resumed = c.stream({ after: stream.lastCursor, onItem: (item) => void received.push(item.cursor) })
    await wait(5)
    resumed.close()
    expect(received).toHaveLength(5)
    expect(new Set(received).size).toBe(5)
    expect(received).toEqual([...received].sort((x, y) => x - y))
  })

  it('delivers `deployed` for an interest in an address before its contract exists', async () => {
    const deployer = accounts[7]!
    const nonce = Number(await anvil.rpc<string>('eth_getTransactionCount', [deployer, 'latest']))
    const future = getContractAddress({ from: deployer, nonce: BigInt(nonce) })
    const c = client()
    const interest = await c.putInterest(future, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    expect(interest.deployed).toBe(false)
    const deployed = await deployTransferEmitter(anvil, deployer)
    expect(deployed.toLowerCase()).toBe(future.toLowerCase())
    await sendTransfer(anvil, deployed, accounts[0]!, accounts[1]!, 3n)
    await synced()
    const items = await everything(c)
    expect(items.map((i) => i.kind)).toEqual(['deployed', 'log'])
    expect((await c.listInterests())[0]?.deployed).toBe(true)
  })

  it('finds a CREATE2 deployment by a factory that leaves no receipt and no log, by its code', async () => {
    // Factory: CREATE2(value 0, calldata as init code, salt 0). The child's constructor emits nothing.
    const deployer = accounts[8]!
    const hash = await anvil.rpc<string>('eth_sendTransaction', [
      { from: deployer, data: CREATE2_FACTORY_INIT },
    ])
    await waitForReceipt(anvil, hash)
    const factory = (await anvil.rpc<{ contractAddress: `0x${string}` }>('eth_getTransactionReceipt', [hash]))
      .contractAddress
    const childInit = '0x6025600a5f3960255ff37f' + 'aa'.repeat(32) + '5f5fa100'
    const child = getContractAddress({
      opcode: 'CREATE2',
      from: factory,
      salt: `0x${'00'.repeat(32)}`,
      bytecode: childInit as `0x${string}`,
    })
    await synced()
    const c = client()
    expect((await c.putInterest(child, { filters: [{ code: 'all', args: [] }] })).deployed).toBe(false)
    // Explicit gas: the factory ignores a failed CREATE2, so an estimate may leave the child none.
    await waitForReceipt(
      anvil,
      await anvil.rpc<string>('eth_sendTransaction', [
        { from: deployer, to: factory, data: childInit, gas: '0x7a120' },
      ]),
    )
    expect(await anvil.rpc('eth_getCode', [child, 'latest'])).not.toBe('0x')
    await synced()
    // No receipt names the child and it emitted no log: only the code sweep can see it.
    const deadline = Date.now() + 15_000
    let items = await everything(c)
    while (items.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      items = await everything(c)
    }
    expect(items.map((i) => i.kind)).toEqual(['deployed'])
    expect(items[0]!.data).toMatchObject({ address: child.toLowerCase(), detectedBy: 'code' })
    expect((await c.listInterests())[0]?.deployed).toBe(true)
  })

  it('withdraws undelivered items and notifies delivered ones when a reorg removes their blocks', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n) // stays
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 2n) // delivered, then reorged out
    await synced()
    const delivered = await everything(c)
    expect(delivered).toHaveLength(2)
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 3n) // never read, then reorged out
    await synced()
    const neverRead = delivered.at(-1)!.cursor + 1 // the 3n log's cursor: this client has nothing else
    // anvil puts reorged transactions back into new blocks; another timestamp makes those blocks differ.
    const before = await anvil.block('latest')
    await anvil.rpc('evm_increaseTime', [120])
    await anvil.reorg(2)
    expect((await anvil.block('latest')).hash).not.toBe(before.hash)
    await synced()
    const after = await everything(c, delivered.at(-1)!.cursor)
    const removed = after.filter((i) => i.kind === 'removed')
    expect(removed).toHaveLength(1)
    expect(removed[0]!.data).toMatchObject({
      removedCursor: delivered[1]!.cursor,
      removedKind: 'log',
      reason: 'reorg',
    })
    expect(removed[0]!.txHash).toBe(delivered[1]!.txHash)
    // The item nobody read is gone without a notice; whatever was re-included comes again, in the new blocks.
    expect(after.map((i) => i.cursor)).not.toContain(neverRead)
    for (const item of after.filter((i) => i.kind === 'log')) {
      expect(item.block!.hash).toBe((await anvil.block(item.block!.number)).hash)
    }
  })

  it('back-fills history from a start block, then goes live with no gap and no duplicate at the seam', async () => {
    const token = await deployTransferEmitter(anvil)
    const startBlock = await anvil.blockNumber()
    for (let i = 0; i < 8; i++)
      await sendTransfer(anvil, token, accounts[i % 4]!, accounts[5]!, BigInt(i + 1))
    await anvil.mine(30)
    await synced()
    const c = client()
    const live = (async () => {
      for (let i = 0; i < 5; i++)
        await sendTransfer(anvil, token, accounts[1]!, accounts[2]!, 100n + BigInt(i))
    })()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }], startBlock })
    await live
    await synced()
    const deadline = Date.now() + 15_000
    while ((service.health().background ?? []).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const truth = await anvil.rpc<GroundLog[]>('eth_getLogs', [
      { fromBlock: `0x${startBlock.toString(16)}`, toBlock: 'latest', address: token },
    ])
    expect(truth).toHaveLength(13)
    const items = await everything(c)
    expect(items.map((i) => logKey(i.block!.number, i.logIndex!))).toEqual(
      truth.map((l) => logKey(l.blockNumber, l.logIndex)),
    )
    expect(items.every((i) => i.kind === 'log' && i.log?.topics[0] === TRANSFER)).toBe(true)
    const job = await service
      .storage!.db.selectFrom('backfill_jobs')
      .select(['status'])
      .executeTakeFirstOrThrow()
    expect(job.status).toBe('done')
  })

  it('a client offline for 500 blocks resumes by cursor and gets everything in order, decoded with its ABI', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    const abi = [
      {
        type: 'event',
        name: 'Transfer',
        inputs: [
          { name: 'from', type: 'address', indexed: true },
          { name: 'to', type: 'address', indexed: true },
          { name: 'value', type: 'uint256', indexed: false },
        ],
      },
    ]
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }], abi })
    const from = await anvil.blockNumber()
    // The client is away: 500 blocks, 25 of them with a transfer.
    for (let i = 0; i < 25; i++) {
      await sendTransfer(anvil, token, accounts[i % 5]!, accounts[6]!, BigInt(1000 + i))
      await anvil.mine(19)
    }
    await synced()
    expect((await anvil.blockNumber()) - from).toBe(500)
    const truth = await anvil.rpc<GroundLog[]>('eth_getLogs', [
      { fromBlock: `0x${(from + 1).toString(16)}`, toBlock: 'latest', address: token },
    ])
    const items = await everything(c)
    expect(items.map((i) => logKey(i.block!.number, i.logIndex!))).toEqual(
      truth.map((l) => logKey(l.blockNumber, l.logIndex)),
    )
    expect(items).toHaveLength(25)
    expect((items[7] as DeliveryItemOf<'log'>).decoded).toEqual({
      name: 'Transfer',
      args: { from: getAddress(accounts[7 % 5]!), to: getAddress(accounts[6]!), value: '1007' },
    })
    expect(items.every((i) => i.confirmations! >= 1)).toBe(true)
  })

  it('meters each client: requests, filter work, queued and delivered items, backlog', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    for (let i = 0; i < 3; i++) await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    await synced()
    const before = await c.usage()
    expect(before.plan).toBe('default')
    expect(before.usage.itemsQueued).toBe(3)
    expect(before.usage.filterWork).toBeGreaterThanOrEqual(3)
    expect(before.usage.requests).toBeGreaterThanOrEqual(2)
    expect(before.stored).toMatchObject({ interests: 1, filters: 1, backlogItems: 3 })
    const items = await everything(c)
    await c.ack(items.at(-1)!.cursor)
    const after = await c.usage()
    expect(after.usage.bytesDelivered).toBeGreaterThan(before.usage.bytesDelivered)
    expect(after.stored.backlogItems).toBe(0)
    expect(after.limits.interests).toBeGreaterThan(0)
  })

  it('a dormant client is not queued for, gets a gap when it returns, and pruning deletes all it owns', async () => {
    const token = await deployTransferEmitter(anvil)
    await synced()
    const c = client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER] }] })
    const adminToken = readFileSync(join(backend.dataDir, 'admin-token'), 'utf8').trim()
    const admin = (method: string, path: string) =>
      fetch(`${service.url}/admin${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } })
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    await synced()
    expect((await admin('POST', `/clients/${c.clientId}/dormant`)).status).toBe(200)
    const missedFrom = (await anvil.blockNumber()) + 1
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 2n)
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 3n)
    await synced()
    const missedTo = await anvil.blockNumber()
    await c.signIn() // back
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 4n)
    await synced()
    const items = await everything(c)
    expect(items.map((i) => i.kind)).toEqual(['log', 'gap', 'log'])
    expect(items[1]!.data).toEqual({ fromBlock: missedFrom, toBlock: missedTo })
    const listed = await (await admin('GET', '/clients?limit=1000')).json()
    expect(listed.clients.find((x: { id: string }) => x.id === c.clientId)).toMatchObject({ stage: 'active' })

    expect((await admin('DELETE', `/clients/${c.clientId}`)).status).toBe(204)
    const db = service.storage!.db
    const id = hexToBytes(c.clientId)
    for (const table of [
      'client_contracts',
      'client_tx_filters',
      'client_deliveries',
      'client_usage',
      'sessions',
    ] as const) {
      expect(
        await db.selectFrom(table).select('client_id').where('client_id', '=', id).execute(),
        table,
      ).toEqual([])
    }
    expect(
      await db
        .selectFrom('deployed_contracts')
        .select('address')
        .where('address', '=', hexToBytes(token))
        .execute(),
    ).toEqual([])
    expect((await admin('DELETE', `/clients/${c.clientId}`)).status).toBe(404)
    expect((await fetch(`${service.url}/admin/clients`)).status).toBe(401)
  })

  it('keeps clients apart and refuses bad input with a code', async () => {
    const [a, b] = [client(), client()]
    await Promise.all([a.signIn(), b.signIn()])
    const token = await deployTransferEmitter(anvil)
    await a.putInterest(token, { filters: [{ code: 'all', args: [] }] })
    await expect(b.deleteInterest(token)).rejects.toMatchObject({ code: 'INTEREST_NOT_FOUND', status: 404 })
    expect(await b.listInterests()).toEqual([])
    expect(await a.listInterests()).toHaveLength(1)

    const unauthenticated = await fetch(`${service.url}/v1/interests`)
    expect(unauthenticated.status).toBe(401)
    expect(await unauthenticated.json()).toMatchObject({ code: 'SESSION_REQUIRED' })
    const forged = await fetch(`${service.url}/v1/deliveries`, {
      headers: { authorization: `Bearer ${'x'.repeat(43)}` },
    })
    expect(forged.status).toBe(401)

    const bad = async (body: unknown, address: string = token) =>
      a.putInterest(address as `0x${string}`, body as never).catch((error: WalletBackendError) => error)
    expect(await bad({ filters: [{ code: 'everything', args: [] }] })).toMatchObject({
      code: 'INVALID_FILTER',
      status: 400,
    })
    expect(await bad({ filters: [{ code: 'logs', args: ['0x1234'] }] })).toMatchObject({
      code: 'INVALID_FILTER',
    })
    expect(await bad({ filters: [{ code: 'transfers', args: ['nope'] }] })).toMatchObject({
      code: 'INVALID_FILTER',
    })
    expect(await bad({ filters: [{ code: 'calls', args: ['0x12'] }] })).toMatchObject({
      code: 'INVALID_FILTER',
    })
    expect(await bad({ filters: [] }, '0xnot-an-address')).toMatchObject({
      code: 'INVALID_REQUEST',
      status: 400,
    })
    expect(await bad({ filter: [] })).toMatchObject({ code: 'INVALID_REQUEST', status: 400 })
    await expect(a.deliveries({ after: -1 })).rejects.toMatchObject({ code: 'INVALID_REQUEST', status: 400 })

    // A tampered sign-in: the signature of another key.
    const challenge = await (
      await fetch(`${service.url}/v1/auth/challenge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: a.account.address }),
      })
    ).json()
    const signature = await b.account.signMessage({ message: challenge.message })
    const refused = await fetch(`${service.url}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: challenge.message, signature }),
    })
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ code: 'SIGNATURE_INVALID' })
  })
})
