import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'

const bin = fileURLToPath(new URL('../../bin/wallet-backend.mjs', import.meta.url))
let anvil: TestAnvil
let dataDir: string
let port: number
let backend: ChildProcess | undefined

function startBackend(): Promise<void> {
  backend = spawn(
    process.execPath,
    [
      bin,
      'start',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--node-url',
      anvil.node.wsUrl,
      '--registration-pow-bits',
      '0',
      '--poll-interval-ms',
      '50',
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  )
  return waitUntil(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined)
    return response?.status === 200
  }, 30_000)
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stopBackend(signal: NodeJS.Signals): Promise<void> {
  const child = backend
  if (!child || child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  await exited
}

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-crash-'))
  port = await freePort()
})
afterAll(async () => {
  await stopBackend('SIGKILL')
  await anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('crashes while streaming', () => {
  it('kill -9 and a restart in the middle of streaming lose nothing and re-send nothing acknowledged', async () => {
    await startBackend()
    const url = `http://127.0.0.1:${port}`
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
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?after=${lastCursor}&token=${session}`)
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
    await waitUntil(() => received.length >= 10, 20_000)
    await stopBackend('SIGKILL') // crash
    await new Promise((resolve) => setTimeout(resolve, 200))
    await startBackend()
    await waitUntil(() => received.length >= 35, 30_000)
    await stopBackend('SIGTERM') // a clean restart too
    await startBackend()
    await traffic
    const truth = await anvil.rpc<{ blockNumber: string; logIndex: string }[]>('eth_getLogs', [
      { fromBlock: `0x${(first + 1).toString(16)}`, toBlock: 'latest', address: token },
    ])
    expect(truth).toHaveLength(60)
    const wanted = truth.map((log) => `${Number(log.blockNumber)}:${Number(log.logIndex)}`)
    await waitUntil(() => wanted.every((key) => received.some((r) => r.key === key)), 30_000)
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
