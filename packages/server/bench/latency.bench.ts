import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter, sendTransfer } from '../test/support/chainActivity.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { tokenWatchers } from './support/tokenWatchers.js'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

/**
 * Live latency: from the moment a block is mined on the node to the moment each connected
 * client's stream hands over its item, with N clients streaming, over `--node-url` as WebSocket
 * (newHeads wakes the backend). Measured on loopback, on PGlite and, given a server, PostgreSQL.
 */
export async function runLatencyBench(options: {
  quick: boolean
  databaseUrl?: string
}): Promise<Record<string, number>> {
  const figures: Record<string, number> = {}
  const streamCounts = options.quick ? [10, 100, 1_000] : [10, 1_000, 10_000]
  const drivers = options.databaseUrl ? (['pglite', 'postgres'] as const) : (['pglite'] as const)
  for (const driver of drivers)
    for (const count of streamCounts) {
      const anvil = await startAnvil()
      const dataDir = mkdtempSync(join(tmpdir(), 'wb-latency-'))
      const scratch = driver === 'postgres' ? await createTestDatabase(options.databaseUrl!) : undefined
      const config = loadConfig({
        flags: {
          port: '0',
          'data-dir': dataDir,
          'node-url': [anvil.node.wsUrl],
          'registration-pow-bits': '0',
          'max-streams-per-subnet': String(count + 10),
          'max-connections-per-ip': String(count + 100),
          // A thousand wallets on one loopback subnet: its cost limit is not what is measured here.
          'subnet-cost-per-second': '1000000',
          'subnet-cost-burst': '10000000',
          ...(scratch ? { 'database-url': scratch.url } : {}),
        },
      })
      const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
      try {
        await service.lifecycle.waitFor('live')
        const token = await deployTransferEmitter(anvil)
        const [from, to] = await anvil.accounts()
        // Transfer i carries amount i: the item says which send it answers, even if it comes first.
        const sentAt = new Map<number, number>()
        const latencies: number[] = []
        const clients = await tokenWatchers(service.url, token, count)
        let received = 0
        const streams = clients.map((client) =>
          client.stream({
            onItem: (item) => {
              const at =
                item.kind === 'log' && item.log ? sentAt.get(Number(BigInt(item.log.data))) : undefined
              if (at !== undefined) latencies.push(performance.now() - at)
              received++
            },
          }),
        )
        await new Promise((resolve) => setTimeout(resolve, 1000)) // streams connected
        const transfers = options.quick ? 10 : 20
        for (let i = 0; i < transfers; i++) {
          sentAt.set(i + 1, performance.now())
          await sendTransfer(anvil, token, from!, to!, BigInt(i + 1))
          const deadline = Date.now() + 30_000
          while (received < (i + 1) * count && Date.now() < deadline)
            await new Promise((resolve) => setTimeout(resolve, 2))
        }
        for (const stream of streams) stream.close()
        const prefix = driver === 'pglite' ? '' : 'postgres'
        figures[`${prefix}p50MsWith${count}Streams`] = Math.round(percentile(latencies, 50) * 10) / 10
        figures[`${prefix}p99MsWith${count}Streams`] = Math.round(percentile(latencies, 99) * 10) / 10
        figures[`${prefix}itemsWith${count}Streams`] = latencies.length
        figures[`${prefix}rssMiBWith${count}Streams`] = Math.round(process.memoryUsage().rss / 2 ** 20)
      } finally {
        await service.stop()
        await scratch?.drop()
        await anvil.stop()
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  return figures
}
