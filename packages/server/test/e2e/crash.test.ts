import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { accountActivityOf, type DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { callContract, deployTestContract, sendEther } from '../support/accountActivityContracts.js'
import { accountTruth, activityKey } from '../support/accountTruth.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { type BackendProcess, backendProcess } from '../support/backendProcess.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let dataDir: string
let backend: BackendProcess

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-crash-'))
  backend = backendProcess({
    dataDir,
    port: await freePort(),
    nodeUrl: anvil.node.wsUrl,
    flags: ['--registration-pow-bits', '0', '--poll-interval-ms', '50', '--log-level', 'warn'],
  })
})
afterAll(async () => {
  await backend.kill()
  await anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('crashes while streaming', { timeout: 240_000 }, () => {
  it('kill -9 and a restart in the middle of streaming lose nothing and re-send nothing acknowledged', async () => {
    await backend.start()
    const url = backend.url
    const token = await deployTransferEmitter(anvil)
    const account = privateKeyToAccount(generatePrivateKey())
    const client = new WalletBackendClient({ url, account })
    await client.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })

    // A raw stream consumer, so that whatever the server sends is seen (the SDK would hide repeats).
    const received: { cursor: number; key: string; ackedBefore: number }[] = []
    let ackedByServer = 0
    let lastCursor = 0
    let stopped = false
    let socket: WebSocket | undefined
    const connect = async () => {
      if (stopped) return
      let session: string
      try {
        const challenge = await (
          await fetch(`${url}/v1/auth/challenge`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ address: account.address }),
          })
        ).json()
        const signature = await account.signMessage({ message: challenge.message })
        session = (
          await (
            await fetch(`${url}/v1/auth/session`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ message: challenge.message, signature }),
            })
          ).json()
        ).token
      } catch {
        setTimeout(() => void connect(), 100)
        return
      }
      const ackedAtConnect = ackedByServer
      const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream?after=${lastCursor}&token=${session}`)
      socket = ws
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString())
        if (message.type === 'acked') ackedByServer = Math.max(ackedByServer, message.cursor)
        if (message.type !== 'item') return
        const item = message.item
        received.push({
          cursor: item.cursor,
          key: `${item.block.number}:${item.logIndex}`,
          ackedBefore: ackedAtConnect,
        })
        lastCursor = Math.max(lastCursor, item.cursor)
        if (item.cursor % 3 === 0) ws.send(JSON.stringify({ type: 'ack', cursor: item.cursor }))
      })
      ws.on('error', () => {})
      ws.on('close', () => setTimeout(() => void connect(), 100))
    }
    await connect()

    const [from, to] = await anvil.accounts()
    const first = await anvil.blockNumber()
    const traffic = (async () => {
      for (let i = 0; i < 60; i++) {
        await sendTransfer(anvil, token, from!, to!, BigInt(i + 1))
        await new Promise((resolve) => setTimeout(resolve, 15))
      }
    })()
    await waitUntil(() => received.length >= 10, 20_000, 'the first items')
    await backend.kill() // crash
    await new Promise((resolve) => setTimeout(resolve, 200))
    await backend.start()
    await waitUntil(() => received.length >= 35, 30_000, 'items after the crash')
    await backend.stop() // a clean restart too
    await backend.start()
    await traffic
    const truth = await anvil.rpc<{ blockNumber: string; logIndex: string }[]>('eth_getLogs', [
      { fromBlock: `0x${(first + 1).toString(16)}`, toBlock: 'latest', address: token },
    ])
    expect(truth).toHaveLength(60)
    const wanted = truth.map((log) => `${Number(log.blockNumber)}:${Number(log.logIndex)}`)
    await waitUntil(() => wanted.every((key) => received.some((r) => r.key === key)), 30_000, 'every log')
    stopped = true
    socket?.close()

    // Nothing lost: every log the node has was delivered.
    const keys = new Set(received.map((r) => r.key))
    expect(wanted.filter((key) => !keys.has(key))).toEqual([])
    // Nothing queued twice: one cursor per log.
    const cursorsByKey = new Map<string, Set<number>>()
    for (const r of received) cursorsByKey.set(r.key, (cursorsByKey.get(r.key) ?? new Set()).add(r.cursor))
    expect([...cursorsByKey.values()].every((cursors) => cursors.size === 1)).toBe(true)
    // Nothing acknowledged was sent again on a later connection.
    expect(received.filter((r) => r.cursor <= r.ackedBefore)).toEqual([])
    expect(ackedByServer).toBeGreaterThan(0)
  })
})

/** Every item of the client’s queue, page by page. */
async function everything(client: WalletBackendClient): Promise<DeliveryItem[]> {
  const items: DeliveryItem[] = []
  let after = 0
  for (;;) {
    const page = await client.deliveries({ after, limit: 50 })
    items.push(...page.items)
    if (page.items.length === 0) return items
    after = page.items.at(-1)!.cursor
  }
}

describe('account interests across a kill -9', { timeout: 240_000 }, () => {
  it('lose nothing and repeat nothing of an account’s activity when the backend is killed and restarted', async () => {
    if (!backend.running) await backend.start()
    const [minter, wallet, other] = (await anvil.accounts()).map((a) => a.toLowerCase() as Hex) as [
      Hex,
      Hex,
      Hex,
    ]
    const erc20 = await deployTestContract(anvil, 'TestERC20')
    const client = new WalletBackendClient({
      url: backend.url,
      account: privateKeyToAccount(generatePrivateKey()),
    })
    await client.putAccount(wallet)
    const from = (await anvil.blockNumber()) + 1
    const activity = async (round: number) => {
      await callContract(anvil, erc20, minter, 'mint', [wallet, BigInt(round)])
      await callContract(anvil, erc20, wallet, 'transfer', [other, 1n])
      await sendEther(anvil, other, wallet, BigInt(round))
    }
    await activity(1)
    await backend.kill() // SIGKILL, whatever it was doing
    await activity(2) // mined while the backend is down
    await backend.start()
    await activity(3)
    const to = await anvil.blockNumber()
    const truth = await accountTruth(anvil, wallet, from, to)
    expect(truth).toHaveLength(3 * 4) // a mint; a transfer out (its log and the wallet's transaction); ether in
    let items: DeliveryItem[] = []
    await waitUntil(
      async () => {
        items = (await everything(client)).filter((i) => i.kind === 'account')
        return items.length >= truth.length
      },
      60_000,
      'every account item',
    )
    expect(
      items.map((i) => ({
        key: activityKey(i.block!.number, i.txIndex!, i.logIndex),
        type: accountActivityOf(i)!.type,
      })),
    ).toEqual(truth)
    expect(
      items.filter((i) => (accountActivityOf(i) as { tokenInfo?: unknown }).tokenInfo !== undefined),
    ).toHaveLength(1)
  })
})
