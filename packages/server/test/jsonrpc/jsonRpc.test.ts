import { Contract, JsonRpcProvider, WebSocketProvider } from 'ethers'
import {
  createPublicClient,
  type Hex,
  hexToBytes,
  http,
  type PublicClient,
  parseAbi,
  parseAbiItem,
  webSocket,
} from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import {
  deploy,
  deployTransferEmitter,
  devAccount,
  GET_ABI,
  STORE_INIT,
  sendTransfer,
} from '../support/chainActivity.js'
import { signIn } from '../support/signIn.js'
import { waitUntil } from '../support/waitUntil.js'

const TRANSFER_EVENT = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')
const TOKEN_ABI = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)'])

let anvil: TestAnvil
let backend: TestBackend
let token: Hex
let from: Hex
let to: Hex

type Answer = {
  jsonrpc: '2.0'
  id: unknown
  result?: unknown
  error?: { code: number; message: string; data?: unknown }
}

/** A signed-in client with an RPC key; `url` is its endpoint on the current backend. */
async function rpcClient(): Promise<{
  key: string
  token: string
  clientId: Hex
  url: () => string
  wsUrl: () => string
}> {
  const session = await signIn(backend.service.url)
  const answer = await fetch(`${backend.service.url}/v1/rpc-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}` },
  })
  expect(answer.status).toBe(201)
  const { key } = (await answer.json()) as { key: string }
  return {
    key,
    token: session.token,
    clientId: session.clientId,
    url: () => `${backend.service.url}/rpc/${key}`,
    wsUrl: () => `${backend.service.url.replace('http', 'ws')}/rpc/${key}`,
  }
}

async function post(url: string, body: string | object): Promise<{ status: number; json: unknown }> {
  const answer = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await answer.text()
  return { status: answer.status, json: text ? JSON.parse(text) : undefined }
}

async function call<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const { json } = await post(url, { jsonrpc: '2.0', id: 1, method, params })
  const answer = json as Answer
  if (answer.error) throw new Error(`${method}: ${answer.error.code} ${answer.error.message}`)
  return answer.result as T
}

type RpcLogOut = { transactionHash: Hex; logIndex: Hex; blockHash: Hex; removed: boolean }

beforeAll(async () => {
  anvil = await startAnvil()
  ;[from, to] = (await anvil.accounts()) as [Hex, Hex]
  backend = await startBackend(anvil, { 'registration-pow-bits': '0' })
  token = await deployTransferEmitter(anvil)
  await backend.synced()
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

describe('the JSON-RPC endpoint with viem', () => {
  it('serves chain facts, contract reads and logs over http()', async () => {
    const rpc = await rpcClient()
    const client = createPublicClient({ transport: http(rpc.url()) })
    expect(await client.getChainId()).toBe(await anvil.rpc<string>('eth_chainId').then(Number))
    expect(Number(await client.getBlockNumber({ cacheTime: 0 }))).toBe(
      backend.service.follower?.snapshot().head?.number,
    )
    const store = await deploy(anvil, STORE_INIT)
    await anvil.rpc('eth_sendTransaction', [{ from, to: store, data: `0x${'00'.repeat(31)}2a` }])
    await backend.synced()
    expect(await client.readContract({ address: store, abi: GET_ABI, functionName: 'get' })).toBe(42n)
    const hash = await sendTransfer(anvil, token, from, to, 7n)
    await backend.synced()
    const logs = await client.getLogs({ address: token, event: TRANSFER_EVENT, fromBlock: 0n })
    expect(logs.map((log) => log.transactionHash)).toContain(hash)
    expect(logs.find((log) => log.transactionHash === hash)?.args.value).toBe(7n)
  })

  it('delivers watchContractEvent and watchBlocks over http() (filters) and webSocket() (subscriptions)', async () => {
    const rpc = await rpcClient()
    const clients: PublicClient[] = [
      createPublicClient({ transport: http(rpc.url()), pollingInterval: 100 }) as PublicClient,
      createPublicClient({ transport: webSocket(rpc.wsUrl(), { reconnect: false }) }) as PublicClient,
    ]
    const seen = clients.map(() => new Set<string>())
    const blocks = clients.map(() => new Set<bigint>())
    const stops = clients.flatMap((client, i) => [
      client.watchContractEvent({
        address: token,
        abi: TOKEN_ABI,
        eventName: 'Transfer',
        onLogs: (logs) => {
          for (const log of logs) seen[i]!.add(log.transactionHash!)
        },
      }),
      client.watchBlocks({ onBlock: (block) => blocks[i]!.add(block.number!) }),
    ])
    // Both watchers install themselves asynchronously: wait until a filter and a subscription exist.
    await waitUntil(
      async () => (await filterCount(rpc.clientId)) >= 3,
      10_000,
      'filters and subscriptions installed',
    )
    const hashes: string[] = []
    for (let i = 0; i < 3; i++) hashes.push(await sendTransfer(anvil, token, from, to, BigInt(i + 1)))
    await waitUntil(
      () => seen.every((set) => hashes.every((h) => set.has(h))),
      15_000,
      'every transfer in every watcher',
    )
    const head = BigInt(await anvil.blockNumber())
    await waitUntil(() => blocks.every((set) => set.has(head)), 15_000, 'the head block in every watcher')
    for (const stop of stops) stop()
    const socket = await (
      clients[1]!.transport as unknown as { getRpcClient(): Promise<{ close(): void }> }
    ).getRpcClient()
    socket.close()
  })

  it('sends a raw transaction through submission tracking and waits for its receipt', async () => {
    const rpc = await rpcClient()
    const client = createPublicClient({ transport: http(rpc.url()), pollingInterval: 100 })
    const account = devAccount(5)
    const chainId = await client.getChainId()
    const nonce = await client.getTransactionCount({ address: account.address })
    const raw = await account.signTransaction({
      chainId,
      nonce,
      to,
      value: 1n,
      gas: 21_000n,
      maxFeePerGas: 10_000_000_000n,
      maxPriorityFeePerGas: 1n,
      type: 'eip1559',
    })
    const hash = await client.sendRawTransaction({ serializedTransaction: raw })
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100 })
    expect(receipt.status).toBe('success')
    const submitted = await fetch(`${backend.service.url}/v1/transactions/${hash}`, {
      headers: { authorization: `Bearer ${rpc.token}` },
    })
    expect(submitted.status).toBe(200)
  })
})

describe('the JSON-RPC endpoint with ethers v6', () => {
  it("delivers contract.on('Transfer') and provider.on('block') on JsonRpcProvider and WebSocketProvider", async () => {
    const rpc = await rpcClient()
    const providers = [
      new JsonRpcProvider(rpc.url(), undefined, { pollingInterval: 100, staticNetwork: true }),
      new WebSocketProvider(rpc.wsUrl()),
    ]
    const seen = providers.map(() => new Set<string>())
    const blocks = providers.map(() => new Set<number>())
    for (const [i, provider] of providers.entries()) {
      if (provider instanceof JsonRpcProvider) provider.pollingInterval = 100
      const contract = new Contract(
        token,
        ['event Transfer(address indexed from, address indexed to, uint256 value)'],
        provider,
      )
      await contract.on('Transfer', (_from, _to, _value, event) => {
        seen[i]!.add(event.log.transactionHash)
      })
      await provider.on('block', (number: number) => blocks[i]!.add(number))
    }
    await waitUntil(
      async () => (await filterCount(rpc.clientId)) >= 2,
      10_000,
      'ethers installed its filters',
    )
    const hashes: string[] = []
    for (let i = 0; i < 2; i++) hashes.push(await sendTransfer(anvil, token, from, to, 1n))
    await waitUntil(
      () => seen.every((set) => hashes.every((h) => set.has(h))),
      15_000,
      'every transfer in every provider',
    )
    const head = await anvil.blockNumber()
    await waitUntil(() => blocks.every((set) => set.has(head)), 15_000, 'the head block in every provider')
    for (const provider of providers) await provider.destroy()
  })
})

describe('durable filters and reorgs', () => {
  it('sends logs of abandoned blocks again flagged removed, before the new branch, on a filter and a subscription', async () => {
    const rpc = await rpcClient()
    const filterId = await call<string>(rpc.url(), 'eth_newFilter', [{ address: token }])
    const socket = new WebSocket(rpc.wsUrl())
    const notes: RpcLogOut[] = []
    await new Promise((resolve) => socket.once('open', resolve))
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString())
      if (message.method === 'eth_subscription') notes.push(message.params.result)
    })
    socket.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_subscribe',
        params: ['logs', { address: token }],
      }),
    )
    await waitUntil(async () => (await filterCount(rpc.clientId)) >= 2, 10_000, 'subscription installed')
    const abandoned = await sendTransfer(anvil, token, from, to, 5n)
    await backend.synced()
    await waitUntil(() => notes.length === 1, 10_000, 'the first log pushed')
    const first = await call<RpcLogOut[]>(rpc.url(), 'eth_getFilterChanges', [filterId])
    expect(first.map((log) => [log.transactionHash, log.removed])).toEqual([[abandoned, false]])
    // The transfer's block is replaced by an empty one, then a new transfer comes.
    await anvil.reorg(1)
    const replacement = await sendTransfer(anvil, token, from, to, 6n)
    await backend.synced()
    await waitUntil(() => notes.length === 3, 10_000, 'the removal and the new log pushed')
    const after = await call<RpcLogOut[]>(rpc.url(), 'eth_getFilterChanges', [filterId])
    const expected = [
      [abandoned, true],
      [replacement, false],
    ]
    expect(after.map((log) => [log.transactionHash, log.removed])).toEqual(expected)
    expect(notes.slice(1).map((log) => [log.transactionHash, log.removed])).toEqual(expected)
    socket.close()
  })

  it('keeps a filter and a subscription across a restart: nothing mined meanwhile is missed, a subscription resumes by its id', async () => {
    const rpc = await rpcClient()
    const filterId = await call<string>(rpc.url(), 'eth_newFilter', [{ address: token }])
    let socket = new WebSocket(rpc.wsUrl())
    await new Promise((resolve) => socket.once('open', resolve))
    const subscribed = new Promise<string>((resolve) =>
      socket.once('message', (data) => resolve(JSON.parse(data.toString()).result)),
    )
    socket.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_subscribe',
        params: ['logs', { address: token }],
      }),
    )
    const subscriptionId = await subscribed
    socket.close()
    let whileDown = ''
    await backend.restart(async () => {
      whileDown = await sendTransfer(anvil, token, from, to, 9n)
    })
    await backend.synced()
    const changes = await call<RpcLogOut[]>(rpc.url(), 'eth_getFilterChanges', [filterId])
    expect(changes.map((log) => log.transactionHash)).toEqual([whileDown])
    socket = new WebSocket(rpc.wsUrl())
    await new Promise((resolve) => socket.once('open', resolve))
    const notes: RpcLogOut[] = []
    const answers: Answer[] = []
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString())
      if (message.method === 'eth_subscription') notes.push(message.params.result)
      else answers.push(message)
    })
    socket.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'eth_subscribe',
        params: ['logs', { resume: subscriptionId }],
      }),
    )
    await waitUntil(() => notes.length === 1, 10_000, 'the log mined while down pushed on resume')
    expect(answers[0]?.result).toBe(subscriptionId)
    expect(notes[0]?.transactionHash).toBe(whileDown)
    socket.close()
  })
})

describe('log filters', () => {
  it('give each log once per filter, whether the filter names its emitter once, twice, or not at all', async () => {
    const rpc = await rpcClient()
    const other = await deployTransferEmitter(anvil)
    const named = await call<string>(rpc.url(), 'eth_newFilter', [{ address: token }])
    const twice = await call<string>(rpc.url(), 'eth_newFilter', [
      { address: [token, token.toUpperCase().replace('0X', '0x')] },
    ])
    const any = await call<string>(rpc.url(), 'eth_newFilter', [{}])
    const mine = await sendTransfer(anvil, token, from, to, 7n)
    const theirs = await sendTransfer(anvil, other, from, to, 8n)
    await backend.synced()
    const hashes = async (id: string) =>
      (await call<RpcLogOut[]>(rpc.url(), 'eth_getFilterChanges', [id])).map((log) => log.transactionHash)
    expect(await hashes(named)).toEqual([mine])
    expect(await hashes(twice)).toEqual([mine])
    expect(await hashes(any)).toEqual([mine, theirs])
  })
})

describe('metering', () => {
  it('charges answers and subscription notifications by their bytes, as delivered bytes of the client', async () => {
    const rpc = await rpcClient()
    const delivered = async () => {
      const answer = await fetch(`${backend.service.url}/v1/usage`, {
        headers: { authorization: `Bearer ${rpc.token}` },
      })
      return ((await answer.json()) as { usage: { bytesDelivered: number } }).usage.bytesDelivered
    }
    const before = await delivered()
    // An answer over HTTP: what it weighs is what the client is charged.
    for (let i = 0; i < 3; i++) await sendTransfer(anvil, token, from, to, BigInt(i + 1))
    await backend.synced()
    const { json } = await post(rpc.url(), {
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getLogs',
      params: [{ address: token, fromBlock: '0x0', toBlock: 'latest' }],
    })
    const answerBytes = Buffer.byteLength(JSON.stringify(json))
    expect((json as Answer).result).toBeInstanceOf(Array)
    const afterAnswer = await delivered()
    expect(afterAnswer - before).toBeGreaterThanOrEqual(answerBytes)

    // Notifications over a WebSocket too, frame by frame.
    const socket = new WebSocket(rpc.wsUrl())
    let notified = 0
    let frames = 0
    await new Promise((resolve) => socket.once('open', resolve))
    socket.on('message', (data) => {
      const text = data.toString()
      if (JSON.parse(text).method !== 'eth_subscription') return
      notified += Buffer.byteLength(text)
      frames++
    })
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }))
    await waitUntil(async () => (await filterCount(rpc.clientId)) >= 1, 10_000, 'subscription installed')
    const beforeHeads = await delivered()
    await anvil.mine(3)
    await waitUntil(() => frames >= 3, 10_000, 'three newHeads notifications')
    expect((await delivered()) - beforeHeads).toBeGreaterThanOrEqual(notified)
    socket.close()
  })
})

describe('bad input', () => {
  it('answers JSON-RPC errors, never a 5xx, and shows nothing of another client', async () => {
    const rpc = await rpcClient()
    const other = await rpcClient()
    const url = rpc.url()
    const malformed = await post(url, '{"jsonrpc":')
    expect(malformed).toMatchObject({ status: 200, json: { error: { code: -32700 } } })
    expect((await post(url, { id: 1, method: 'eth_chainId' })).json).toMatchObject({
      error: { code: -32600 },
    })
    expect(
      (await post(url, { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: 'x' })).json,
    ).toMatchObject({
      error: { code: -32600 },
    })
    for (const method of [
      'debug_traceTransaction',
      'anvil_mine',
      'eth_sign',
      'personal_sign',
      'admin_peers',
      'nope',
    ])
      expect((await post(url, { jsonrpc: '2.0', id: 1, method, params: [] })).json).toMatchObject({
        id: 1,
        error: { code: -32601 },
      })
    const batch = Array.from({ length: 101 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'eth_chainId' }))
    expect((await post(url, batch)).json).toMatchObject({ error: { code: -32600 } })
    const small = await post(url, batch.slice(0, 3))
    expect((small.json as Answer[]).map((a) => a.id)).toEqual([0, 1, 2])
    expect((await post(url, [])).json).toMatchObject({ error: { code: -32600 } })
    const huge = await post(url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getLogs',
      params: [{ fromBlock: '0x0', toBlock: '0xffffffff' }],
    })
    expect(huge.json).toMatchObject({ error: { code: -32602 } })
    expect(
      (await post(url, { jsonrpc: '2.0', id: 1, method: 'eth_newFilter', params: [{ address: 'x' }] })).json,
    ).toMatchObject({
      error: { code: -32602 },
    })
    const theirs = await call<string>(other.url(), 'eth_newFilter', [{ address: token }])
    for (const method of ['eth_getFilterChanges', 'eth_getFilterLogs', 'eth_uninstallFilter']) {
      const answer = (await post(url, { jsonrpc: '2.0', id: 1, method, params: [theirs] })).json as Answer
      if (method === 'eth_uninstallFilter') expect(answer.result).toBe(false)
      else expect(answer.error).toMatchObject({ code: -32000, message: 'filter not found' })
    }
    expect(await call(other.url(), 'eth_getFilterChanges', [theirs])).toEqual([])
    const unknownKey = await post(`${backend.service.url}/rpc/rpk_${'0'.repeat(64)}`, {
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_chainId',
    })
    expect(unknownKey).toMatchObject({ status: 401, json: { error: { code: -32001 } } })
    const bearer = await fetch(`${backend.service.url}/rpc`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rpc.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'net_version' }),
    })
    expect(await bearer.json()).toMatchObject({ id: 7, result: expect.any(String) })
  })

  it('stops serving a revoked key', async () => {
    const rpc = await rpcClient()
    const keys = await fetch(`${backend.service.url}/v1/rpc-keys`, {
      headers: { authorization: `Bearer ${rpc.token}` },
    })
    const [{ id }] = ((await keys.json()) as { keys: { id: number }[] }).keys as [{ id: number }]
    expect(await call(rpc.url(), 'eth_chainId')).toMatch(/^0x/)
    const revoked = await fetch(`${backend.service.url}/v1/rpc-keys/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${rpc.token}` },
    })
    expect(revoked.status).toBe(204)
    expect((await post(rpc.url(), { jsonrpc: '2.0', id: 1, method: 'eth_chainId' })).status).toBe(401)
  })
})

/** The filters and subscriptions a client has installed. */
async function filterCount(clientId: Hex): Promise<number> {
  const row = await backend.service
    .storage!.db.selectFrom('rpc_filters')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('client_id', '=', hexToBytes(clientId))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
