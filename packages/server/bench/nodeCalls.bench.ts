import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { WalletBackendClient } from '@wallet-backend/sdk'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../test/support/chainActivity.js'
import { type FaultyNode, startFaultyNode } from '../test/support/faultyNode.js'
import { tokenWatchers } from './support/tokenWatchers.js'

const POLL_MS = 1_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Node calls per block while one transfer is mined every poll interval, over `blocks` blocks. */
async function callsPerBlock(
  anvil: TestAnvil,
  proxy: FaultyNode,
  token: `0x${string}`,
  blocks: number,
): Promise<number> {
  const [from, to] = await anvil.accounts()
  await sleep(POLL_MS) // let every poller settle into its rhythm
  proxy.calls.clear()
  const start = await anvil.blockNumber()
  for (let i = 0; i < blocks; i++) {
    await sendTransfer(anvil, token, from!, to!, 1n)
    await sleep(POLL_MS)
  }
  const mined = (await anvil.blockNumber()) - start
  const calls = [...proxy.calls.values()].reduce((sum, n) => sum + n, 0)
  return Math.round((calls / mined) * 10) / 10
}

/**
 * Node calls per block: the backend (one follower, whatever the number of clients) with 1 and
 * 1,000 streaming clients, against the same number of wallets each polling the node itself with
 * viem's `watchContractEvent` over HTTP — what a wallet does without a backend. Both poll every
 * second; every call through a counting proxy in front of anvil.
 */
export async function runNodeCallsBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const blocks = options.quick ? 6 : 20
  const many = 1_000
  const anvil = await startAnvil()
  // A proxy that tampers with nothing: it only counts the calls through it.
  const proxy = await startFaultyNode(anvil.node.httpUrl)
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-node-calls-'))
  const figures: Record<string, number> = {}
  try {
    const token = await deployTransferEmitter(anvil)

    const config = loadConfig({
      flags: {
        port: '0',
        'data-dir': dataDir,
        'node-url': [proxy.url],
        'poll-interval-ms': String(POLL_MS),
        'registration-pow-bits': '0',
        'max-connections-per-ip': '2000',
        'client-cost-burst': '100000',
        'subnet-cost-burst': '1000000',
        'subnet-cost-per-second': '100000',
      },
    })
    const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
    try {
      await service.lifecycle.waitFor('live')
      const clients: WalletBackendClient[] = []
      const streams: { close(): void }[] = []
      const addClients = async (n: number) => {
        const fresh = await tokenWatchers(service.url, token, n)
        for (const c of fresh) streams.push(c.stream({ onItem: () => {} }))
        clients.push(...fresh)
      }
      await addClients(1)
      figures.backendWith1Client = await callsPerBlock(anvil, proxy, token, blocks)
      await addClients(many - 1)
      figures.backendWith1000Clients = await callsPerBlock(anvil, proxy, token, blocks)
      // Account interests that follow internal transfers: one trace call per block, for all of them.
      const [, recipient] = await anvil.accounts()
      for (const c of clients.slice(0, 100))
        await c.putAccount(recipient!, { activity: ['tokens', 'internal'] })
      figures.backendWith1000ClientsAnd100TracedAccounts = await callsPerBlock(anvil, proxy, token, blocks)
      for (const stream of streams) stream.close()
    } finally {
      await service.stop()
    }

    const pollers = new Worker(new URL('./support/pollingWallets.worker.mjs', import.meta.url), {
      workerData: { url: proxy.url, token, pollMs: POLL_MS },
    })
    const ask = <T>(message: { type: string; count?: number }, answer: string) =>
      new Promise<T>((resolve) => {
        const onMessage = (reply: { type: string } & T) => {
          if (reply.type !== answer) return
          pollers.off('message', onMessage)
          resolve(reply)
        }
        pollers.on('message', onMessage)
        pollers.postMessage(message)
      })
    try {
      await ask({ type: 'add', count: 1 }, 'added')
      figures.pollingWith1Client = await callsPerBlock(anvil, proxy, token, blocks)
      await ask({ type: 'add', count: many - 1 }, 'added')
      figures.pollingWith1000Clients = await callsPerBlock(anvil, proxy, token, blocks)
      figures.pollingLogsSeen = (await ask<{ logsSeen: number }>({ type: 'logsSeen' }, 'logsSeen')).logsSeen
    } finally {
      await pollers.terminate()
    }
    figures.ratioPollingToBackendWith1000Clients =
      Math.round((figures.pollingWith1000Clients / figures.backendWith1000Clients) * 10) / 10
  } finally {
    await proxy.close()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runNodeCallsBench({ quick: !process.argv.includes('--full') }))
}
