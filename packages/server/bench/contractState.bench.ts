import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalletBackendClient } from '@wallet-backend/sdk'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { deploy, GET_ABI, GET_SELECTOR, STORE_INIT, word } from '../test/support/chainActivity.js'
import { type FaultyNode, startFaultyNode } from '../test/support/faultyNode.js'
import { waitUntil } from '../test/support/waitUntil.js'

const WATCHES = [
  { kind: 'balance' as const, args: [] },
  { kind: 'slot' as const, args: ['0x0'] },
  { kind: 'call' as const, args: [GET_SELECTOR] },
]

type Totals = { proofs: number; calls: number; batchSeconds: number; blocks: number }

async function totals(service: Service): Promise<Totals> {
  const value = async (
    name: string,
    pick: (v: { labels: Record<string, unknown>; metricName?: string }) => boolean,
  ) => (await service.metrics.getSingleMetric(name)!.get()).values.find(pick)?.value ?? 0
  return {
    proofs: await value(
      'wallet_backend_contract_state_reads_total',
      (v) => v.labels.method === 'eth_getProof',
    ),
    calls: await value('wallet_backend_contract_state_reads_total', (v) => v.labels.method === 'eth_call'),
    batchSeconds: await value(
      'wallet_backend_chain_batch_seconds',
      (v) => v.metricName?.endsWith('_sum') ?? false,
    ),
    blocks: await value('wallet_backend_chain_blocks_total', () => true),
  }
}

/**
 * Mines `blocks` blocks, each with a transaction that changes one watched store's slot (so its view
 * call is due) and a plain transfer, and reports per block: the backend's time from fetch to
 * commit, and its eth_getProof and eth_call reads.
 */
async function perBlock(
  anvil: TestAnvil,
  proxy: FaultyNode,
  service: Service,
  stores: readonly Hex[],
  blocks: number,
): Promise<{ ms: number; proofs: number; calls: number; nodeCalls: number }> {
  const accounts = await anvil.accounts()
  const before = await totals(service)
  const nodeCalls = () => [...proxy.calls.values()].reduce((sum, n) => sum + n, 0)
  const callsBefore = nodeCalls()
  for (let b = 0; b < blocks; b++) {
    await anvil.rpc('evm_setAutomine', [false])
    const store = stores[b % stores.length]
    if (store)
      await anvil.rpc('eth_sendTransaction', [{ from: accounts[0], to: store, data: word(BigInt(b + 1)) }])
    await anvil.rpc('eth_sendTransaction', [{ from: accounts[1], to: accounts[2], value: '0x1' }])
    await anvil.rpc('evm_mine')
    await anvil.rpc('evm_setAutomine', [true])
  }
  const head = (await anvil.block('latest')).hash
  await waitUntil(() => service.follower?.snapshot().head?.hash === head, 60_000, 'the backend to follow')
  const after = await totals(service)
  const callsAfter = nodeCalls()
  const mined = after.blocks - before.blocks
  const round = (n: number) => Math.round(n * 100) / 100
  return {
    ms: round(((after.batchSeconds - before.batchSeconds) * 1000) / mined),
    proofs: round((after.proofs - before.proofs) / mined),
    calls: round((after.calls - before.calls) / mined),
    nodeCalls: round((callsAfter - callsBefore) / mined),
  }
}

/**
 * The cost of contract-state watches: one client watching balance, a slot and a view call of 1,
 * 100 (and, in full mode, 1,000) contracts, while each block changes one of them. Per block: the
 * backend's time from fetch to commit against the same blocks with nothing watched (the ratio),
 * and its reads of the node — one eth_getProof per watched contract, eth_call only where due.
 */
export async function runContractStateBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const sizes = options.quick ? [1, 100] : [1, 100, 1_000]
  const blocks = options.quick ? 20 : 50
  const anvil = await startAnvil()
  // A proxy that tampers with nothing: it counts every call the backend makes, whatever its kind.
  const proxy = await startFaultyNode(anvil.node.httpUrl)
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-contract-state-'))
  const figures: Record<string, number> = {}
  try {
    const stores: Hex[] = []
    for (let i = 0; i < sizes.at(-1)!; i++) stores.push(await deploy(anvil, STORE_INIT))
    const config = loadConfig({
      flags: {
        port: '0',
        'data-dir': dataDir,
        'node-url': [proxy.url],
        'poll-interval-ms': '50',
        'registration-pow-bits': '0',
        'max-interests-per-client': '2000',
        'client-cost-burst': '100000000',
        'client-cost-per-second': '1000000',
        'subnet-cost-burst': '100000000',
        'subnet-cost-per-second': '1000000',
      },
    })
    const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
    try {
      await service.lifecycle.waitFor('live')
      const baseline = await perBlock(anvil, proxy, service, [], blocks)
      figures.msPerBlockUnwatched = baseline.ms
      figures.nodeCallsPerBlockUnwatched = baseline.nodeCalls
      const client = new WalletBackendClient({
        url: service.url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: WebSocket as never,
      })
      let watched = 0
      for (const size of sizes) {
        for (; watched < size; watched++) {
          await client.putInterest(stores[watched]!, { filters: [], watches: WATCHES, abi: [...GET_ABI] })
        }
        // Every first value queued: the watches are installed and read once.
        await waitUntil(
          async () => (await client.deliveries({ after: 0, limit: 1 })).lastCursor >= size * WATCHES.length,
          60_000,
          'the first values',
        )
        const measured = await perBlock(anvil, proxy, service, stores.slice(0, size), blocks)
        figures[`msPerBlockWatching${size}`] = measured.ms
        figures[`ratioToUnwatchedWatching${size}`] = Math.round((measured.ms / baseline.ms) * 100) / 100
        figures[`getProofPerBlockWatching${size}`] = measured.proofs
        figures[`ethCallPerBlockWatching${size}`] = measured.calls
        figures[`nodeCallsPerBlockWatching${size}`] = measured.nodeCalls
      }
    } finally {
      await service.stop()
    }
  } finally {
    await proxy.close()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runContractStateBench({ quick: !process.argv.includes('--full') }))
}
