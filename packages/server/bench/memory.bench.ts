import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WalletBackendClient } from '@wallet-backend/sdk'
import { startAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter } from '../test/support/chainActivity.js'
import { spawnBackend } from './support/spawnBackend.js'
import { tokenWatchers } from './support/tokenWatchers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const diskBytes = (dir: string) =>
  Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0])

/**
 * Memory of the backend process (its own, measured from /proc while the clients run in this one):
 * idle RSS after its first start and after restarts, RSS per connected idle stream, and RSS and
 * disk per queued item of an offline client, on the embedded PGlite database.
 */
export async function runMemoryBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const streamCount = options.quick ? 1_000 : 5_000
  const itemCount = options.quick ? 4_000 : 20_000
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-memory-'))
  const backend = await spawnBackend({
    'data-dir': dataDir,
    'node-url': anvil.node.wsUrl,
    'registration-pow-bits': '0',
    'max-streams-per-subnet': String(streamCount + 10),
    'max-connections-per-ip': String(streamCount + 100),
    'client-cost-burst': '100000',
    'subnet-cost-burst': '10000000',
    'subnet-cost-per-second': '1000000',
  })
  const figures: Record<string, number> = {}
  try {
    // Idle: right after the first start (the database seeded from the build's copy), then after
    // restarts on the same data directory — the state a deployment sits in most of the time.
    const idle = async () => {
      await sleep(3_000)
      return Math.round(backend.rssBytes() / 2 ** 20)
    }
    figures.idleRssMiBFirstStart = await idle()
    const restarts: number[] = []
    for (let i = 0; i < 3; i++) {
      await backend.stop()
      await backend.start()
      restarts.push(await idle())
    }
    figures.idleRssMiBAfterRestartMin = Math.min(...restarts)
    figures.idleRssMiBAfterRestartMax = Math.max(...restarts)
    const token = await deployTransferEmitter(anvil)
    // Idle streams: signed in, interested, connected, nothing to send.
    const clients = await tokenWatchers(backend.url, token, streamCount)
    await sleep(2_000)
    const beforeStreams = backend.rssBytes()
    let open = 0
    const streams = clients.map((c) => c.stream({ onItem: () => {}, onOpen: () => void open++ }))
    const deadline = Date.now() + 60_000
    while (open < streamCount && Date.now() < deadline) await sleep(50)
    await sleep(2_000)
    figures.streamsOpen = open
    figures.rssKiBPerIdleStream = Math.round((backend.rssBytes() - beforeStreams) / streamCount / 102.4) / 10
    for (const stream of streams) stream.close()
    for (const c of clients) await c.deleteInterest(token)

    // Queued items: one offline client, many matching logs.
    const [offline] = (await tokenWatchers(backend.url, token, 1)) as [WalletBackendClient]
    const senders = await anvil.accounts()
    await sleep(1_000)
    const beforeItems = backend.rssBytes()
    const diskBefore = diskBytes(dataDir)
    const perBlock = 200
    const data = `0x${senders[0]!.slice(2).toLowerCase().padStart(64, '0')}${'1'.padStart(64, '0')}`
    await anvil.rpc('evm_setAutomine', [false])
    for (let sent = 0; sent < itemCount; sent += perBlock) {
      // Each sender's transactions one after another (their nonces), the senders side by side.
      await Promise.all(
        senders.map(async (from, k) => {
          for (let i = k; i < perBlock; i += senders.length) {
            await anvil.rpc('eth_sendTransaction', [{ from, to: token, data }])
          }
        }),
      )
      await anvil.rpc('evm_mine')
    }
    await anvil.rpc('evm_setAutomine', [true])
    const queued = async () => (await offline.usage()).stored.backlogItems
    const itemsDeadline = Date.now() + 120_000
    while ((await queued()) < itemCount && Date.now() < itemsDeadline) await sleep(200)
    await sleep(6_000) // usage and checkpoint writes settle
    const items = await queued()
    figures.itemsQueued = items
    figures.rssBytesPerQueuedItem = Math.round((backend.rssBytes() - beforeItems) / items)
    figures.diskBytesPerQueuedItem = Math.round((diskBytes(dataDir) - diskBefore) / items)
    figures.rssMiBAtEnd = Math.round(backend.rssBytes() / 2 ** 20)
  } finally {
    await backend.stop()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runMemoryBench({ quick: !process.argv.includes('--full') }))
}
