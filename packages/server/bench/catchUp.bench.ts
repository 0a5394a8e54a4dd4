import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import type { ChainListener } from '../src/chain/follower/ChainListener.js'
import { Follower } from '../src/chain/follower/Follower.js'
import { RpcClient } from '../src/chain/rpc/RpcClient.js'
import { migrateToLatest } from '../src/storage/migrateToLatest.js'
import { openStorage, type Storage } from '../src/storage/openStorage.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { deployLogger, mineActivity } from '../test/support/chainActivity.js'

export type CatchUpFigures = Record<string, number | string>

const logger = pino({ level: 'silent' })
const noListener: ChainListener = { blocksAdded: async () => {}, blocksRemoved: async () => {} }

/** What a plain script needs to fetch the same blocks and receipts: batched, one batch at a time. */
async function plainFetch(url: string, head: number, batch: number): Promise<number> {
  const rpc = new RpcClient({ urls: [url], timeoutMs: 30_000, logger })
  const started = performance.now()
  for (let from = 0; from <= head; from += batch) {
    const numbers = Array.from(
      { length: Math.min(batch, head - from + 1) },
      (_, i) => `0x${(from + i).toString(16)}`,
    )
    await rpc.batch([
      ...numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [n, true] })),
      ...numbers.map((n) => ({ method: 'eth_getBlockReceipts', params: [n] })),
    ])
  }
  const seconds = (performance.now() - started) / 1000
  await rpc.close()
  return seconds
}

async function followerCatchUp(
  anvil: TestAnvil,
  storage: Storage,
  head: number,
  batch: number,
): Promise<number> {
  const rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 30_000, logger })
  const follower = new Follower({
    db: storage.db,
    node: rpc,
    listener: noListener,
    logger,
    metrics: new Registry(),
    pollIntervalMs: 1000,
    startBlock: 0,
    confirmations: 64,
    batchSize: batch,
    retainFinalizedBlocks: 1_000_000,
  })
  const started = performance.now()
  await follower.start()
  await follower.waitForHead(head, 600_000)
  const seconds = (performance.now() - started) / 1000
  await follower.stop()
  await rpc.close()
  return seconds
}

/** Catch-up over a pre-built anvil chain, against a plain fetch of the same data in the same run. */
export async function runCatchUpBench(options: {
  quick: boolean
  databaseUrl?: string
}): Promise<CatchUpFigures> {
  const blocks = options.quick ? 1500 : 6000
  const batch = 50
  const anvil = await startAnvil({ extraArgs: ['--prune-history'] })
  const figures: CatchUpFigures = {}
  try {
    const target = await deployLogger(anvil)
    const buildStarted = performance.now()
    await mineActivity(anvil, target, blocks, 4)
    figures.workloadBuildSeconds = round((performance.now() - buildStarted) / 1000)
    const head = await anvil.blockNumber()
    const logs = blocks * 2
    figures.blocks = head + 1
    figures.logs = logs
    figures.transactions = blocks * 4 + 1

    const plain = await plainFetch(anvil.node.httpUrl, head, batch)
    figures.plainFetchSeconds = round(plain)
    figures.plainFetchBlocksPerSecond = round((head + 1) / plain)

    const dir = mkdtempSync(join(tmpdir(), 'wb-bench-'))
    try {
      const pglite = await openStorage({ driver: 'pglite', dataDir: join(dir, 'pglite') })
      await migrateToLatest(pglite)
      const seconds = await followerCatchUp(anvil, pglite, head, batch)
      await pglite.close()
      figures.pgliteCatchUpSeconds = round(seconds)
      figures.pgliteBlocksPerSecond = round((head + 1) / seconds)
      figures.pgliteLogsPerSecond = round(logs / seconds)
      figures.pgliteRatioToPlainFetch = round(seconds / plain)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }

    if (options.databaseUrl) {
      const schema = `bench_${randomBytes(4).toString('hex')}`
      const admin = await openStorage({ driver: 'postgres', url: options.databaseUrl, poolSize: 1 })
      await sql.raw(`create schema ${schema}`).execute(admin.db)
      try {
        const pg = await openStorage({ driver: 'postgres', url: options.databaseUrl, schema })
        await migrateToLatest(pg)
        const seconds = await followerCatchUp(anvil, pg, head, batch)
        await pg.close()
        figures.postgresCatchUpSeconds = round(seconds)
        figures.postgresBlocksPerSecond = round((head + 1) / seconds)
        figures.postgresLogsPerSecond = round(logs / seconds)
        figures.postgresRatioToPlainFetch = round(seconds / plain)
      } finally {
        await sql.raw(`drop schema ${schema} cascade`).execute(admin.db)
        await admin.close()
      }
    }
  } finally {
    await anvil.stop()
  }
  return figures
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(
    await runCatchUpBench({
      quick: !process.argv.includes('--full'),
      ...(process.env.TEST_DATABASE_URL ? { databaseUrl: process.env.TEST_DATABASE_URL } : {}),
    }),
  )
}
