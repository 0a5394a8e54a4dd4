import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { freePort } from '../src/chain/node/freePort.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { type BackendProcess, backendProcess } from '../test/support/backendProcess.js'
import { deployTransferEmitter } from '../test/support/chainActivity.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { waitUntil } from '../test/support/waitUntil.js'
import type { BackendChaosCounts } from './backendChaos.js'
import type { TrafficCounts, TrafficPlan } from './chainTraffic.js'
import { checkDeliveries, type DeliveryCheck, sumChecks } from './checkDeliveries.js'
import { PollingClient } from './clients/PollingClient.js'
import { RawStreamClient } from './clients/RawStreamClient.js'
import { SdkStreamClient } from './clients/SdkStreamClient.js'
import type { ClientStats, SoakClient } from './clients/SoakClient.js'
import { expectedItems, fetchReceipts } from './groundTruth.js'
import { emptyNodeChaosCounts, NodeChaos, type NodeChaosCounts } from './nodeChaos.js'
import type { SoakInterest } from './observations.js'
import { Random } from './random.js'
import { type ChaosRates, runChaos } from './runChaos.js'

const TRANSFER_TOPIC: Hex = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

export type SoakOptions = {
  seconds: number
  seed: number
  clients: number
  /** A PostgreSQL server to run on (a database of its own is created and dropped); PGlite when absent. */
  databaseUrl?: string
  /** Backend instances sharing the database (more than one needs `databaseUrl`); clients are spread over them. */
  instances: number
  meanMs: ChaosRates
  log: (line: string) => void
}

export type SoakResult = {
  seed: number
  storage: 'pglite' | 'postgres'
  instances: number
  /** Elections seen: how many times the leadership passed (a kill of the leader, a lost lock session). */
  terms: number
  chaosSeconds: number
  settleSeconds: number
  backend: BackendChaosCounts & { unexpectedExits: string[] }
  node: NodeChaosCounts
  traffic: TrafficCounts
  disconnects: number
  blocks: { first: number; last: number }
  chainAlarm: unknown
  /** Each client's verdict; undefined when the run failed before it could be judged. */
  clients: { name: string; kind: string; stats: ClientStats; check: DeliveryCheck | undefined }[]
  total: DeliveryCheck
  /** Why the run could not be judged (the backend did not come back, …); undefined when it could. */
  failure: string | undefined
}

type Health = { head?: { hash: Hex }; chain?: { alarm?: unknown }; leadership?: { term?: number } }

async function health(backend: BackendProcess): Promise<Health | undefined> {
  const response = await fetch(`${backend.url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(
    () => undefined,
  )
  return response?.ok ? ((await response.json()) as Health) : undefined
}

/** The interests client `index` installs: token logs, transfers to one party, everything of a token. */
function interestsOf(index: number, plan: TrafficPlan): SoakInterest[] {
  const [tokenA, tokenB] = plan.tokens as [Hex, Hex]
  const sets: SoakInterest[][] = [
    [{ address: tokenA, filter: { code: 'logs', args: [TRANSFER_TOPIC] } }],
    [
      { address: tokenA, filter: { code: 'transfers', args: [plan.recipients[0], 'to'] } },
      { address: tokenB, filter: { code: 'all', args: [] } },
    ],
    [{ address: tokenB, filter: { code: 'all', args: [] } }],
  ]
  return sets[(index + Math.floor(index / 3)) % sets.length]!
}

function makeClient(
  index: number,
  url: string,
  plan: TrafficPlan,
  random: Random,
): { kind: string; client: SoakClient } {
  const account = privateKeyToAccount(generatePrivateKey())
  const interests = interestsOf(index, plan)
  const rng = random.fork(`client-${index}`)
  switch (index % 3) {
    case 0:
      return { kind: 'sdk-stream', client: new SdkStreamClient(`sdk-${index}`, url, account, interests, rng) }
    case 1:
      return { kind: 'raw-stream', client: new RawStreamClient(`raw-${index}`, url, account, interests, rng) }
    default:
      return { kind: 'polling', client: new PollingClient(`poll-${index}`, url, account, interests, rng) }
  }
}

/**
 * The soak: a real anvil, the backend as child processes — one on an embedded PGlite, or several
 * sharing a PostgreSQL database, one leading — and clients of three kinds spread over them, under
 * kill -9 of a backend, node restarts, reorgs and client disconnects. At the end, every client's
 * holding is compared with its filters' matches on the node's final chain.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  if (options.instances > 1 && !options.databaseUrl)
    throw new Error('several instances need a PostgreSQL database (--database-url)')
  const random = new Random(options.seed)
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-soak-'))
  const logFile = join(dataDir, 'backend.log')
  let anvil: TestAnvil | undefined
  const backends: BackendProcess[] = []
  let database: { url: string; drop: () => Promise<void> } | undefined
  let terms = 0
  const clients: { kind: string; client: SoakClient }[] = []
  const backendCounts: BackendChaosCounts = { kills: 0, recoveryMs: [] }
  const traffic: TrafficCounts = { transfers: 0, emptyBlocks: 0, failedSteps: 0 }
  let nodeChaos: NodeChaos | undefined
  let disconnects = 0
  let failure: string | undefined
  let chaosSeconds = 0
  let settleSeconds = 0
  let first = 0
  let last = 0
  let chainAlarm: unknown
  let checks: DeliveryCheck[] = []
  // Interrupted (Ctrl-C) or crashed: the child processes and the data must not outlive the run.
  const leaveNothing = () => {
    for (const pid of [...backends.map((b) => b.pid), anvil?.node.pid]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL')
      } catch {}
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  const interrupted = (signal: NodeJS.Signals) => {
    leaveNothing()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.on('exit', leaveNothing)
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    // A node's own pace of saving; a crash in the soak saves first and then mines what it will lose.
    anvil = await startAnvil({ dataDir: join(dataDir, 'anvil'), stateIntervalSeconds: 5 })
    const accounts = await anvil.accounts()
    const plan: TrafficPlan = {
      tokens: [await deployTransferEmitter(anvil), await deployTransferEmitter(anvil)],
      senders: accounts.slice(0, 5),
      recipients: accounts.slice(5, 8),
    }
    // Room below the head for the deepest reorg from the start.
    await anvil.mine(70)
    if (options.databaseUrl) database = await createTestDatabase(options.databaseUrl)
    for (let i = 0; i < options.instances; i++) {
      backends.push(
        backendProcess({
          dataDir: join(dataDir, `backend-${i}`),
          port: await freePort(),
          nodeUrl: anvil.node.wsUrl,
          logFile,
          readyTimeoutMs: 90_000,
          flags: [
            ...['--registration-pow-bits', '8', '--poll-interval-ms', '50', '--start-block', '0'],
            ...['--log-level', 'warn', '--rpc-timeout-ms', '2000'],
            // A reliability run, not an abuse test: the cost limits stay out of the way.
            ...['--client-cost-per-second', '100000', '--client-cost-burst', '1000000'],
            ...['--subnet-cost-per-second', '1000000', '--subnet-cost-burst', '10000000'],
            ...(database ? ['--database-url', database.url, '--leader-retry-ms', '250'] : []),
          ],
        }),
      )
    }
    options.log(
      `soak: starting ${options.instances} backend instance(s) on ${database ? 'PostgreSQL' : 'PGlite (a new embedded database takes a few seconds)'}`,
    )
    // The first one leads; the others stand by.
    for (const backend of backends) await backend.start()
    for (let i = 0; i < options.clients; i++)
      clients.push(makeClient(i, backends[i % backends.length]!.url, plan, random))
    for (const { client } of clients) await client.setUp()
    // Interests apply from the next block the backend follows: let it pass one before any traffic.
    await anvil.mine(2)
    const node = anvil
    // Every instance: a standby serves the head the leader last recorded.
    const atNodeHead = async () => {
      const latest = (await node.block('latest')).hash
      const heads = await Promise.all(backends.map(async (b) => (await health(b))?.head?.hash))
      return heads.every((head) => head === latest)
    }
    await waitUntil(atNodeHead, 30_000, 'the backend to reach the node head')
    first = (await anvil.blockNumber()) + 1
    for (const { client } of clients) client.start()

    nodeChaos = new NodeChaos(anvil, plan, traffic, first - 1)
    const started = Date.now()
    options.log(`soak: chaos for ${options.seconds} s from block ${first}, seed ${options.seed}`)
    disconnects = await runChaos(
      {
        anvil,
        backends,
        plan,
        clients: clients.map(({ client }) => client),
        node: nodeChaos,
        traffic,
        backendCounts,
      },
      options.meanMs,
      options.seconds,
      random,
      options.log,
    )
    chaosSeconds = (Date.now() - started) / 1000

    // Settle: no more events; the backend follows the final chain and the clients catch up.
    const settling = Date.now()
    for (const backend of backends) if (!backend.running) await backend.start()
    await anvil.mine(1)
    await waitUntil(atNodeHead, 60_000, 'the backend to reach the node head after the chaos')
    last = await anvil.blockNumber()
    const receipts = await fetchReceipts(anvil.node.httpUrl, first, last)
    const judge = () =>
      clients.map(({ client }) =>
        checkDeliveries(client.record, expectedItems(receipts, client.record.interests)),
      )
    await waitUntil(
      () => {
        checks = judge()
        return checks.every((check) => check.lost === 0 && check.wrong === 0)
      },
      60_000,
      'every client to hold its matches',
      500,
    ).catch(() => {})
    for (const { client } of clients) await client.stop()
    checks = judge()
    const reports = await Promise.all(backends.map((b) => health(b)))
    chainAlarm = reports.find((report) => report?.chain?.alarm)?.chain?.alarm
    terms = Math.max(0, ...reports.map((report) => report?.leadership?.term ?? 0))
    settleSeconds = (Date.now() - settling) / 1000
    const exits = backends.flatMap((b) => b.unexpectedExits)
    if (exits.length > 0) failure = `a backend exited by itself: ${exits.join(', ')}`
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error)
    options.log(`soak: failed: ${failure}`)
    try {
      options.log(`soak: end of the backend log:\n${readFileSync(logFile, 'utf8').slice(-4_000)}`)
    } catch {}
  } finally {
    await Promise.all(clients.map(({ client }) => client.stop().catch(() => {})))
    await Promise.all(backends.map((b) => b.kill().catch(() => {})))
    await anvil?.stop().catch(() => {})
    await database?.drop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
    process.off('exit', leaveNothing)
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
  }
  return {
    seed: options.seed,
    storage: database ? 'postgres' : 'pglite',
    instances: options.instances,
    terms,
    chaosSeconds,
    settleSeconds,
    backend: { ...backendCounts, unexpectedExits: backends.flatMap((b) => b.unexpectedExits) },
    node: nodeChaos?.counts ?? emptyNodeChaosCounts(),
    traffic,
    disconnects,
    blocks: { first, last },
    chainAlarm,
    clients: clients.map(({ kind, client }, i) => ({
      name: client.record.name,
      kind,
      stats: client.stats,
      check: checks[i],
    })),
    total: sumChecks(checks),
    failure,
  }
}
