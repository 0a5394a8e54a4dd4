import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { TRANSFER_TOPIC } from '../src/filters/compileFilter.js'
import { startAnvil } from '../test/support/anvil.js'
import { deployTransferEmitter } from '../test/support/chainActivity.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import type { ArrivalEvent, ArrivalRequest } from './support/arrivingWallets.js'
import { forkedProcess } from './support/forkedProcess.js'
import { spawnBackend } from './support/spawnBackend.js'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const seconds = (ms: number) => Math.round(ms / 100) / 10

/** Processes the wallets run in: enough to keep their own signing off the critical path. */
const WALLET_PROCESSES = 4
/** How long the wallets may take to arrive, or to stream again after a restart; what is not done by then counts as failed. */
const ARRIVAL_TIMEOUT_MS = 180_000

const walletProcess = () =>
  forkedProcess<ArrivalEvent, ArrivalRequest>(new URL('./support/arrivingWallets.ts', import.meta.url))
/** How long the parent waits for an answer: the wallets' own bound and a margin. */
const ANSWER_TIMEOUT_MS = ARRIVAL_TIMEOUT_MS + 30_000

/**
 * N wallets arriving at once: each signs in (registering), registers two interests and opens its
 * stream, all started together from child processes against the `wallet-backend start` CLI in a
 * process of its own. Then the backend restarts (SIGTERM, start again) while every wallet holds a
 * valid session, and the time until all stream again is measured.
 */
export async function runArrivalBench(options: {
  quick: boolean
  databaseUrl?: string
  wallets?: number
  /** One driver only (run alone); both when a database URL is given, else PGlite. */
  driver?: 'pglite' | 'postgres'
}): Promise<Record<string, number>> {
  const figures: Record<string, number> = {}
  const drivers = options.driver
    ? [options.driver]
    : options.databaseUrl
      ? (['pglite', 'postgres'] as const)
      : (['pglite'] as const)
  for (const driver of drivers) {
    // PGlite serves one statement at a time: fewer wallets keep its run within minutes.
    const sizes = options.quick ? { pglite: 500, postgres: 1_000 } : { pglite: 1_000, postgres: 3_000 }
    const count = options.wallets ?? sizes[driver]
    const prefix = driver === 'pglite' ? 'pglite' : 'postgres'
    Object.assign(
      figures,
      await arrival(count, prefix, driver === 'postgres' ? options.databaseUrl : undefined),
    )
  }
  return figures
}

async function arrival(count: number, prefix: string, databaseUrl?: string): Promise<Record<string, number>> {
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-arrival-'))
  const scratch = databaseUrl ? await createTestDatabase(databaseUrl) : undefined
  const backend = await spawnBackend({
    'data-dir': dataDir,
    'node-url': anvil.node.wsUrl,
    // What is measured is the backend's work per wallet; the wallets' own proof of work would
    // only take the shared cores from it.
    'registration-pow-bits': '0',
    'max-streams-per-subnet': String(count + 10),
    'max-connections-per-ip': String(3 * count + 100),
    // Every wallet comes from the loopback's one subnet here; its cost limit is not measured.
    'subnet-cost-per-second': '1000000',
    'subnet-cost-burst': '10000000',
    ...(scratch ? { 'database-url': scratch.url } : {}),
  })
  const wallets = Array.from({ length: WALLET_PROCESSES }, walletProcess)
  const figures: Record<string, number> = {}
  try {
    const token = await deployTransferEmitter(anvil)
    const other = await deployTransferEmitter(anvil)
    await Promise.all(
      wallets.map(async (w, k) => {
        const prepared = w.next('prepared', ANSWER_TIMEOUT_MS)
        const share = Math.floor(count / WALLET_PROCESSES) + (k < count % WALLET_PROCESSES ? 1 : 0)
        w.send({ type: 'prepare', url: backend.url, count: share, token, other, topic: TRANSFER_TOPIC })
        await prepared
      }),
    )
    const cpuBefore = backend.cpuMs()
    const reports = await Promise.all(
      wallets.map(async (w) => {
        const arrived = w.next('arrived', ANSWER_TIMEOUT_MS)
        w.send({ type: 'go', timeoutMs: ARRIVAL_TIMEOUT_MS })
        return (await arrived).report
      }),
    )
    const cpu = backend.cpuMs() - cpuBefore
    const all = (key: 'signedIn' | 'interests' | 'streaming') => reports.flatMap((r) => r[key])
    const streaming = all('streaming').filter((ms) => ms >= 0)
    const failures: Record<string, number> = {}
    for (const report of reports)
      for (const [code, n] of Object.entries(report.failures)) failures[code] = (failures[code] ?? 0) + n
    figures[`${prefix}Wallets`] = count
    figures[`${prefix}WalletsStreaming`] = streaming.length
    figures[`${prefix}WalletsPerSecond`] =
      streaming.length > 0 ? Math.round(streaming.length / (Math.max(...streaming) / 1000)) : 0
    figures[`${prefix}SignedInP50Ms`] = percentile(
      all('signedIn').filter((ms) => ms >= 0),
      50,
    )
    // From asking for its stream (interests registered) to the stream open: what sign-ins
    // queued ahead of it cost a wallet that is already in.
    const opening = reports.flatMap((r) => r.streaming.map((ms, i) => (ms >= 0 ? ms - r.interests[i]! : -1)))
    figures[`${prefix}StreamOpenP50Ms`] = percentile(
      opening.filter((ms) => ms >= 0),
      50,
    )
    figures[`${prefix}StreamOpenP99Ms`] = percentile(
      opening.filter((ms) => ms >= 0),
      99,
    )
    figures[`${prefix}StreamingP50Ms`] = percentile(streaming, 50)
    figures[`${prefix}StreamingP99Ms`] = percentile(streaming, 99)
    figures[`${prefix}BackendCpuMsPerWallet`] = Math.round((cpu / count) * 10) / 10
    figures[`${prefix}Failures`] = Object.values(failures).reduce((a, b) => a + b, 0)
    if (figures[`${prefix}Failures`]) console.error(`arrival: ${prefix} failures`, failures)

    // Restart: every wallet holds a valid session and reconnects by itself.
    for (const w of wallets) w.send({ type: 'watchReopen', timeoutMs: ARRIVAL_TIMEOUT_MS })
    const reopened = wallets.map((w) => w.next('reopened', ANSWER_TIMEOUT_MS))
    await backend.stop()
    const restarting = Date.now()
    await backend.start()
    const ready = Date.now()
    const times = (await Promise.all(reopened)).flatMap((m) => m.times)
    figures[`${prefix}RestartReadyS`] = seconds(ready - restarting)
    figures[`${prefix}RestartStreamingAgain`] = times.length
    figures[`${prefix}RestartAllStreamingAfterReadyS`] = seconds(Math.max(...times) - ready)
    figures[`${prefix}RestartAllStreamingS`] = seconds(Math.max(...times) - restarting)
    figures[`${prefix}RssMiBAtEnd`] = Math.round(backend.rssBytes() / 2 ** 20)
  } finally {
    await Promise.all(wallets.map((w) => w.stop()))
    await backend.stop()
    await scratch?.drop()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      wallets: { type: 'string' },
      driver: { type: 'string' },
      'database-url': { type: 'string' },
    },
  })
  const databaseUrl = values['database-url'] ?? process.env.TEST_DATABASE_URL
  console.log(
    await runArrivalBench({
      quick: !values.full,
      ...(values.wallets ? { wallets: Number(values.wallets) } : {}),
      ...(values.driver === 'pglite' || values.driver === 'postgres' ? { driver: values.driver } : {}),
      ...(databaseUrl ? { databaseUrl } : {}),
    }),
  )
}
