import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { freePort } from '../src/chain/node/freePort.js'
import { TRANSFER_TOPIC } from '../src/filters/compileFilter.js'
import { startAnvil } from '../test/support/anvil.js'
import { type BackendProcess, backendProcess } from '../test/support/backendProcess.js'
import { deployTransferEmitter, sendTransfer } from '../test/support/chainActivity.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { waitUntil } from '../test/support/waitUntil.js'

type Leadership = { role?: 'leader' | 'standby'; term?: number }

async function leadershipOf(backend: BackendProcess): Promise<Leadership | undefined> {
  const response = await fetch(`${backend.url}/health`, { signal: AbortSignal.timeout(1_000) }).catch(
    () => undefined,
  )
  return response?.ok ? ((await response.json()) as { leadership?: Leadership }).leadership : undefined
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * Failover of two instances on one PostgreSQL database, with the default `--leader-retry-ms`
 * (1 s): the leader is killed with SIGKILL while a wallet streams from the standby, and a transfer
 * is mined at once. Measured each time: until the standby leads, and until the wallet has the
 * transfer's log — everything a client of the standby waits for. The killed instance comes back
 * as the standby, and the next round kills the new leader.
 */
export async function runFailoverBench(options: {
  quick: boolean
  databaseUrl: string
}): Promise<Record<string, number>> {
  const rounds = options.quick ? 4 : 10
  const anvil = await startAnvil()
  const database = await createTestDatabase(options.databaseUrl)
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-failover-'))
  const backends: BackendProcess[] = []
  const streams: { close(): void }[] = []
  try {
    const token = await deployTransferEmitter(anvil)
    const [from, to] = (await anvil.accounts()) as [Hex, Hex]
    for (let i = 0; i < 2; i++) {
      backends.push(
        backendProcess({
          dataDir: join(dataDir, `backend-${i}`),
          port: await freePort(),
          nodeUrl: anvil.node.wsUrl,
          readyTimeoutMs: 60_000,
          flags: ['--database-url', database.url, '--registration-pow-bits', '0', '--log-level', 'warn'],
        }),
      )
      await backends[i]!.start()
    }
    // A wallet on each instance, so that one is always on the instance that survives.
    const received = backends.map(() => new Set<string>())
    for (const [i, backend] of backends.entries()) {
      const client = new WalletBackendClient({
        url: backend.url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: WebSocket as never,
      })
      await client.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
      streams.push(
        client.stream({
          minReconnectMs: 50,
          maxReconnectMs: 200,
          onItem: (item: DeliveryItem) => void received[i]!.add(item.txHash ?? ''),
        }),
      )
    }
    const takeover: number[] = []
    const delivered: number[] = []
    for (let round = 0; round < rounds; round++) {
      const roles = await Promise.all(backends.map(leadershipOf))
      const leader = roles.findIndex((r) => r?.role === 'leader')
      if (leader < 0) throw new Error('no leader before the round')
      const survivor = 1 - leader
      const killed = performance.now()
      await backends[leader]!.kill()
      const hash = (await sendTransfer(anvil, token, from, to, BigInt(round + 1))).toLowerCase()
      await waitUntil(
        async () => (await leadershipOf(backends[survivor]!))?.role === 'leader',
        30_000,
        'the standby to lead',
        20,
      )
      takeover.push(performance.now() - killed)
      await waitUntil(() => received[survivor]!.has(hash), 30_000, 'the wallet to get the transfer', 10)
      delivered.push(performance.now() - killed)
      await backends[leader]!.start()
    }
    const round = (ms: number) => Math.round(ms)
    return {
      rounds,
      msToNewLeaderMedian: round(median(takeover)),
      msToNewLeaderMax: round(Math.max(...takeover)),
      msToDeliveryMedian: round(median(delivered)),
      msToDeliveryMax: round(Math.max(...delivered)),
    }
  } finally {
    for (const stream of streams) stream.close()
    await Promise.all(backends.map((b) => b.kill().catch(() => {})))
    await anvil.stop()
    await database.drop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = process.env.TEST_DATABASE_URL
  if (!databaseUrl) {
    console.error('failover: skipped — it needs PostgreSQL (TEST_DATABASE_URL)')
  } else {
    console.log(await runFailoverBench({ quick: !process.argv.includes('--full'), databaseUrl }))
  }
}
