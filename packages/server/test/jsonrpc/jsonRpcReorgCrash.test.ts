import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, type Hex, http, numberToHex, parseAbi } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { type BackendProcess, backendProcess } from '../support/backendProcess.js'
import { deployTransferEmitter, devAccount, sendTransfer } from '../support/chainActivity.js'
import { signIn } from '../support/signIn.js'
import { createTestDatabase, TEST_DATABASE_URL } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const TOKEN_ABI = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)'])

type SeenLog = { blockHash: Hex; logIndex: number; removed: boolean }

/** What a wallet holds after applying every log it was sent in order; a removal of a log it never had is an error. */
class WalletView {
  readonly present = new Set<string>()
  readonly errors: string[] = []
  removed = 0

  apply(log: SeenLog): void {
    const key = `${log.blockHash}:${log.logIndex}`
    if (log.removed) {
      this.removed += 1
      if (!this.present.delete(key)) this.errors.push(`removed ${key}, which was never sent`)
    } else if (this.present.has(key)) this.errors.push(`sent ${key} twice`)
    else this.present.add(key)
  }
}

let anvil: TestAnvil
let dataDir: string
let backend: BackendProcess
let database: { url: string; drop: () => Promise<void> } | undefined

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-jsonrpc-crash-'))
  // PostgreSQL where the run has one: a PGlite database is created from scratch by the process.
  if (TEST_DATABASE_URL) database = await createTestDatabase()
  backend = backendProcess({
    dataDir,
    port: await freePort(),
    nodeUrl: anvil.node.wsUrl,
    flags: [
      '--registration-pow-bits',
      '0',
      '--poll-interval-ms',
      '50',
      '--log-level',
      'warn',
      ...(database ? ['--database-url', database.url] : []),
    ],
    readyTimeoutMs: 90_000,
  })
})

afterAll(async () => {
  await backend.kill()
  await anvil.stop()
  await database?.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('JSON-RPC wallets across reorgs and a kill -9', () => {
  it('every log of the final chain reaches every wallet, abandoned ones flagged removed, nothing missed', async () => {
    await backend.start()
    const [from, to] = (await anvil.accounts()) as [Hex, Hex]
    const token = await deployTransferEmitter(anvil)
    const session = await signIn(backend.url)
    const created = await fetch(`${backend.url}/v1/rpc-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token}` },
    })
    const { key } = (await created.json()) as { key: string }
    const url = `${backend.url}/rpc/${key}`

    // Wallet 1: viem's watchContractEvent over http() (a polled filter); it keeps its filter across errors.
    const viemView = new WalletView()
    let filterInstalled = false
    const client = createPublicClient({
      transport: http(url, {
        retryCount: 0,
        onFetchResponse: async (response) => {
          const body = await response.clone().text()
          if (/"result":"0x[0-9a-f]{32}"/.test(body)) filterInstalled = true
        },
      }),
      pollingInterval: 100,
    })
    const unwatch = client.watchContractEvent({
      address: token,
      abi: TOKEN_ABI,
      eventName: 'Transfer',
      onLogs: (logs) => {
        for (const log of logs)
          viemView.apply({ blockHash: log.blockHash!, logIndex: log.logIndex!, removed: log.removed })
      },
      onError: () => {},
    })

    // Wallet 2: a WebSocket subscription, resumed by its id after every dropped connection.
    const wsView = new WalletView()
    let subscriptionId: string | undefined
    let stopped = false
    const connect = () => {
      if (stopped) return
      const socket = new WebSocket(url.replace('http', 'ws'))
      socket.on('error', () => {})
      socket.on('close', () => setTimeout(connect, 100))
      socket.on('open', () => {
        const params = subscriptionId ? ['logs', { resume: subscriptionId }] : ['logs', { address: token }]
        socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params }))
      })
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString())
        if (message.id === 1 && typeof message.result === 'string') subscriptionId = message.result
        if (message.method === 'eth_subscription') {
          const log = message.params.result
          wsView.apply({ blockHash: log.blockHash, logIndex: Number(log.logIndex), removed: log.removed })
        }
      })
      sockets.push(socket)
    }
    const sockets: WebSocket[] = []
    connect()
    await waitUntil(() => subscriptionId !== undefined, 10_000, 'subscribed')
    await waitUntil(() => filterInstalled, 10_000, "viem's filter installed")

    const reorgSigner = devAccount(7)
    const chainId = Number(await anvil.rpc<string>('eth_chainId'))
    const transferData = (amount: bigint): Hex =>
      `0x${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`
    const reorg = async (depth: number) => {
      const head = await anvil.blockNumber()
      let nonce = Number(
        await anvil.rpc<string>('eth_getTransactionCount', [reorgSigner.address, numberToHex(head - depth)]),
      )
      const txs: [Hex, number][] = []
      for (let offset = 0; offset < depth; offset += 2) {
        const signed = await reorgSigner.signTransaction({
          chainId,
          nonce: nonce++,
          to: token,
          data: transferData(BigInt(1000 + offset)),
          gas: 100_000n,
          maxFeePerGas: 20_000_000_000n,
          maxPriorityFeePerGas: 1n,
          type: 'eip1559',
        })
        txs.push([signed, offset])
      }
      await anvil.reorg(depth, txs)
    }
    const backendAtHead = async () => {
      const head = await anvil.blockNumber()
      const answer = await fetch(url, {
        method: 'POST',
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' }),
      }).catch(() => undefined)
      const json = answer?.ok ? ((await answer.json()) as { result?: Hex }) : undefined
      return json?.result !== undefined && Number(json.result) === head
    }

    /** The token's logs on the node's chain now. */
    const chainLogs = async () =>
      new Set(
        (
          await anvil.rpc<{ blockHash: Hex; logIndex: Hex }[]>('eth_getLogs', [
            { address: token, fromBlock: '0x0', toBlock: 'latest' },
          ])
        ).map((log) => `${log.blockHash}:${Number(log.logIndex)}`),
      )
    const holds = (view: WalletView, logs: Set<string>) =>
      view.present.size === logs.size && [...logs].every((k) => view.present.has(k))

    for (const [round, depth] of [1, 2, 4, 7, 10].entries()) {
      for (let i = 0; i < depth + 1; i++) await sendTransfer(anvil, token, from, to, BigInt(round * 100 + i))
      await waitUntil(backendAtHead, 60_000, 'the backend at the head')
      // The wallets hold what was mined, so that the reorg takes back logs they were sent.
      const current = await chainLogs()
      await waitUntil(
        () => holds(viemView, current) && holds(wsView, current),
        // Bounds for a machine running other test files beside this one, not expectations.
        60_000,
        'the wallets at the head',
      )
      if (round === 2) {
        // A crash: the backend is killed, the chain moves and reorgs while it is down.
        await backend.kill()
        await sendTransfer(anvil, token, from, to, 77n)
        await reorg(3)
        await sendTransfer(anvil, token, from, to, 78n)
        await backend.start()
      }
      await reorg(depth)
    }
    await sendTransfer(anvil, token, from, to, 999n)
    await waitUntil(backendAtHead, 60_000, 'the backend at the final head')

    const truth = new Set(
      (
        await anvil.rpc<{ blockHash: Hex; logIndex: Hex }[]>('eth_getLogs', [
          { address: token, fromBlock: '0x0', toBlock: 'latest' },
        ])
      ).map((log) => `${log.blockHash}:${Number(log.logIndex)}`),
    )
    const same = (view: WalletView) =>
      view.present.size === truth.size && [...truth].every((k) => view.present.has(k))
    await waitUntil(() => same(viemView) && same(wsView), 60_000, 'every wallet holding the final chain')
    stopped = true
    unwatch()
    for (const socket of sockets) socket.close()
    expect(viemView.errors).toEqual([])
    expect(wsView.errors).toEqual([])
    // The reorgs took back logs the wallets had been sent, and they were told.
    expect(viemView.removed).toBeGreaterThan(0)
    expect(wsView.removed).toBeGreaterThan(0)
  }, 240_000)
})
