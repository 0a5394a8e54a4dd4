import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter } from '../test/support/chainActivity.js'
import { startFaultyNode } from '../test/support/faultyNode.js'
import { tokenWatchers } from './support/tokenWatchers.js'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const round = (n: number) => Math.round(n * 10) / 10

/** When each block was mined, by number: anvil's own newHeads, over a WebSocket of the benchmark's. */
async function minedTimes(anvil: TestAnvil): Promise<{ at: Map<number, number>; close(): void }> {
  const at = new Map<number, number>()
  const socket = new WebSocket(anvil.node.wsUrl)
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { params?: { result?: { number?: string } } }
    const number = message.params?.result?.number
    if (number) at.set(Number(number), performance.now())
  })
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }))
  return { at, close: () => socket.close() }
}

/**
 * Following an HTTP-only node (no newHeads for the backend): anvil mines a block every second,
 * each holding a transfer one client's stream receives. Delivery is from the block being mined
 * (anvil's newHeads to the benchmark) to the item handed to the client; head polls are the
 * backend's calls for the `latest` block, counted by a proxy in front of anvil. Adaptive head
 * polling against the old fixed interval, both with `--poll-interval-ms 1000`.
 */
export async function runHeadPollingBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const blocks = options.quick ? 15 : 40
  const figures: Record<string, number> = {}
  for (const mode of ['adaptive', 'fixed'] as const) {
    const anvil = await startAnvil({ blockTimeSeconds: 1 })
    const proxy = await startFaultyNode(anvil.node.httpUrl)
    let headPolls = 0
    proxy.tamper = (message) => {
      if (message.method === 'eth_getBlockByNumber' && message.params[0] === 'latest') headPolls++
      return undefined
    }
    const mined = await minedTimes(anvil)
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-head-polling-'))
    try {
      const token = await deployTransferEmitter(anvil)
      const config = loadConfig({
        flags: {
          port: '0',
          'data-dir': dataDir,
          'node-url': [proxy.url],
          'poll-interval-ms': '1000',
          'head-polling': mode,
          'registration-pow-bits': '0',
        },
      })
      const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
      try {
        await service.lifecycle.waitFor('live')
        const [client] = await tokenWatchers(service.url, token, 1)
        const received = new Map<number, number>()
        const stream = client!.stream({
          onItem: (item) => {
            if (item.block && !received.has(item.block.number))
              received.set(item.block.number, performance.now())
          },
        })
        const [from, to] = await anvil.accounts()
        const data = `0x${to!.slice(2).toLowerCase().padStart(64, '0')}${'1'.padStart(64, '0')}`
        const send = () => anvil.rpc('eth_sendTransaction', [{ from, to: token, data }])
        // Let the schedule learn the rhythm, then one transfer in every block.
        for (let i = 0; i < 4; i++) await new Promise((resolve) => setTimeout(resolve, 1000))
        const first = (await anvil.blockNumber()) + 1
        const polls0 = headPolls
        let last = first - 1
        while (last < first + blocks - 1) {
          const head = await anvil.blockNumber()
          if (head > last || received.size === 0) {
            await send()
            last = head
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        const deadline = Date.now() + 10_000
        while (![...received.keys()].some((n) => n >= last) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 20))
        const span = (await anvil.blockNumber()) - first + 1
        const latencies: number[] = []
        for (const [number, at] of received) {
          const minedAt = mined.at.get(number)
          if (number >= first && minedAt !== undefined) latencies.push(at - minedAt)
        }
        stream.close()
        figures[`${mode}DeliveryP50Ms`] = round(percentile(latencies, 50))
        figures[`${mode}DeliveryP99Ms`] = round(percentile(latencies, 99))
        figures[`${mode}HeadPollsPerBlock`] = round((headPolls - polls0) / span)
        figures[`${mode}Items`] = latencies.length
      } finally {
        await service.stop()
      }
    } finally {
      mined.close()
      await proxy.close()
      await anvil.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runHeadPollingBench({ quick: !process.argv.includes('--full') }))
}
