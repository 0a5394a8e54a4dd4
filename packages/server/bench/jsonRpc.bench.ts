import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../test/support/chainActivity.js'
import { type FaultyNode, startFaultyNode } from '../test/support/faultyNode.js'
import { signIn } from './support/signIn.js'

const POLL_MS = 1_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!

type Wallets = { worker: Worker; ask<T>(message: object, answer: string): Promise<T> }

/** `count` viem wallets in a worker of their own, each watching the token at its own URL. */
async function walletsAt(urls: string[], token: `0x${string}`): Promise<Wallets> {
  const worker = new Worker(new URL('./support/rpcWallets.worker.mjs', import.meta.url), {
    workerData: { token, pollMs: POLL_MS },
  })
  const ask = <T>(message: object, answer: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (reply: { type: string } & T) => {
        if (reply.type !== answer) return
        worker.off('message', onMessage)
        resolve(reply)
      }
      worker.on('message', onMessage)
      worker.postMessage(message)
    })
  for (let i = 0; i < urls.length; i += 100) await ask({ type: 'add', urls: urls.slice(i, i + 100) }, 'added')
  return { worker, ask }
}

/**
 * Mines one transfer per poll interval for `blocks` blocks and measures node calls per block
 * (through the counting proxy) and block-mined → onLogs latency over every wallet.
 */
async function measure(
  anvil: TestAnvil,
  proxy: FaultyNode,
  wallets: Wallets,
  token: `0x${string}`,
  blocks: number,
  count: number,
): Promise<{ callsPerBlock: number; p50Ms: number; p99Ms: number; delivered: number }> {
  const [from, to] = await anvil.accounts()
  await sleep(3 * POLL_MS) // every wallet has installed its filter and settled into its rhythm
  await wallets.ask({ type: 'arrivals' }, 'arrivals')
  proxy.calls.clear()
  const start = await anvil.blockNumber()
  const minedAt = new Map<string, number>()
  for (let i = 0; i < blocks; i++) {
    const hash = await sendTransfer(anvil, token, from!, to!, 1n)
    minedAt.set(hash, Date.now())
    await sleep(POLL_MS)
  }
  const mined = (await anvil.blockNumber()) - start
  const calls = [...proxy.calls.values()].reduce((sum, n) => sum + n, 0)
  await sleep(3 * POLL_MS) // the last block reaches everyone
  const { arrivals } = await wallets.ask<{ arrivals: [string, number[]][] }>({ type: 'arrivals' }, 'arrivals')
  const latencies: number[] = []
  for (const [hash, times] of arrivals) {
    const at = minedAt.get(hash)
    if (at !== undefined) for (const time of times) latencies.push(time - at)
  }
  latencies.sort((a, b) => a - b)
  return {
    callsPerBlock: Math.round((calls / mined) * 10) / 10,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    delivered: Math.round((latencies.length / (blocks * count)) * 1000) / 1000,
  }
}

/**
 * `count` unmodified viem wallets running watchContractEvent, pointed at the backend's JSON-RPC
 * endpoint (each with its own client and key) over HTTP polling and over WebSocket, and the same
 * wallets pointed at the node itself; every node call through one counting proxy in front of anvil.
 */
export async function runJsonRpcBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const count = options.quick ? 200 : 1_000
  const blocks = options.quick ? 5 : 15
  const anvil = await startAnvil()
  const proxy = await startFaultyNode(anvil.node.httpUrl)
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-jsonrpc-bench-'))
  const figures: Record<string, number> = { wallets: count }
  try {
    const token = await deployTransferEmitter(anvil)
    const config = loadConfig({
      flags: {
        port: '0',
        'data-dir': dataDir,
        'node-url': [proxy.url],
        'poll-interval-ms': '100',
        'registration-pow-bits': '0',
        'max-connections-per-ip': '5000',
        'client-cost-burst': '100000',
        'subnet-cost-burst': '10000000',
        'subnet-cost-per-second': '1000000',
      },
    })
    const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
    try {
      await service.lifecycle.waitFor('live')
      const keys: string[] = []
      for (let i = 0; i < count; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, count - i) }, async () => {
            const session = await signIn(service.url)
            const answer = await fetch(`${service.url}/v1/rpc-keys`, {
              method: 'POST',
              headers: { authorization: `Bearer ${session}` },
            })
            return ((await answer.json()) as { key: string }).key
          }),
        )
        keys.push(...batch)
      }
      for (const [name, base] of [
        ['backendHttp', service.url],
        ['backendWs', service.url.replace('http', 'ws')],
      ] as const) {
        const wallets = await walletsAt(
          keys.map((key) => `${base}/rpc/${key}`),
          token,
        )
        try {
          const result = await measure(anvil, proxy, wallets, token, blocks, count)
          for (const [figure, value] of Object.entries(result)) figures[`${name}${cap(figure)}`] = value
        } finally {
          await wallets.worker.terminate()
        }
      }
    } finally {
      await service.stop()
    }
    const direct = await walletsAt(
      Array.from({ length: count }, () => proxy.url),
      token,
    )
    try {
      const result = await measure(anvil, proxy, direct, token, blocks, count)
      for (const [figure, value] of Object.entries(result)) figures[`nodeHttp${cap(figure)}`] = value
    } finally {
      await direct.worker.terminate()
    }
  } finally {
    await proxy.close()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return figures
}

const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runJsonRpcBench({ quick: !process.argv.includes('--full') }))
}
