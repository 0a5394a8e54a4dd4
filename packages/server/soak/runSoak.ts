import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hex } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { freePort } from '../src/chain/node/freePort.js'
import { startAnvil, type TestAnvil } from '../test/support/anvil.js'
import { type BackendProcess, backendProcess } from '../test/support/backendProcess.js'
import { deploy, deployTransferEmitter, STORE_INIT } from '../test/support/chainActivity.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { waitUntil } from '../test/support/waitUntil.js'
import type { BackendChaosCounts } from './backendChaos.js'
import type { TrafficCounts, TrafficPlan } from './chainTraffic.js'
import { checkDeliveries, type DeliveryCheck, type HoldingJudge, sumChecks } from './checkDeliveries.js'
import { readStore, stateJudge, stateTruth } from './checkState.js'
import { submissionJudge } from './checkSubmissions.js'
import type { ClientStats, SoakClientBase } from './clients/SoakClient.js'
import { type DormancyCounts, makeDormant } from './dormancy.js'
import { expectedBelowFirst, expectedItems, fetchFinalChain } from './groundTruth.js'
import { emptyNodeChaosCounts, NodeChaos, type NodeChaosCounts } from './nodeChaos.js'
import { nodeIntegrity } from './nodeIntegrity.js'
import type { ClientRecord } from './observations.js'
import { Random } from './random.js'
import {
  backfillClient,
  filterClient,
  producerClients,
  ROLES,
  type Role,
  type RunClient,
  STATE_WATCHES,
} from './roles.js'
import { type ChaosRates, runChaos } from './runChaos.js'
import { type SubmissionCounts, Submitter } from './submitter.js'

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
  clients: { name: string; kind: string; role: Role; stats: ClientStats; check: DeliveryCheck | undefined }[]
  /** The verdicts summed by the producer their clients judge. */
  producers: Record<Role, DeliveryCheck>
  submissions: SubmissionCounts
  dormancy: DormancyCounts
  /** Blocks where the storage contract's watched values changed, and how many of them the node no longer serves. */
  state: { changedBlocks: number; unreadable: number }
  total: DeliveryCheck
  /** Why the run could not be judged (the backend did not come back, …); undefined when it could. */
  failure: string | undefined
  /** What the node itself lost, when the run failed (see nodeIntegrity): no verdict on the backend. */
  nodeBroken: string | undefined
}

type Health = { head?: { hash: Hex }; chain?: { alarm?: unknown }; leadership?: { term?: number } }

async function health(backend: BackendProcess): Promise<Health | undefined> {
  const response = await fetch(`${backend.url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(
    () => undefined,
  )
  return response?.ok ? ((await response.json()) as Health) : undefined
}

/** Signs a client in and installs its interests, again and again while the backend is down, until `stop()`. */
async function setUpInTime(client: SoakClientBase, stop: () => boolean): Promise<boolean> {
  while (!stop()) {
    try {
      await client.setUp()
      return true
    } catch {
      client.stats.errors++
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  return false
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
  const clients: RunClient[] = []
  const backendCounts: BackendChaosCounts = { kills: 0, recoveryMs: [] }
  const traffic: TrafficCounts = { transfers: 0, storeWrites: 0, emptyBlocks: 0, failedSteps: 0 }
  const dormancy: DormancyCounts = { made: 0, failed: 0, gaps: 0 }
  const stateCounts = { changedBlocks: 0, unreadable: 0 }
  let submitter: Submitter | undefined
  let nodeChaos: NodeChaos | undefined
  let disconnects = 0
  let failure: string | undefined
  let nodeBroken: string | undefined
  /** The run's contracts, whose code the node must keep. */
  let contracts: Hex[] = []
  let chaosSeconds = 0
  let settleSeconds = 0
  let first = 0
  let last = 0
  let chainAlarm: unknown
  let checks: DeliveryCheck[] = []
  let stopping = false
  const backfills: Promise<unknown>[] = []
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
      store: await deploy(anvil, STORE_INIT),
      senders: accounts.slice(0, 5),
      recipients: accounts.slice(5, 8),
    }
    contracts = [...plan.tokens, plan.store]
    // The submitting wallet's key is the run's own; anvil funds it.
    const submitKey = privateKeyToAccount(generatePrivateKey())
    await anvil.rpc('anvil_setBalance', [submitKey.address, '0x56bc75e2d63100000'])
    const adminToken = randomBytes(24).toString('hex')
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
            ...['--log-level', 'warn', '--rpc-timeout-ms', '2000', '--admin-token', adminToken],
            // Submitted transactions the node lost with its blocks come back within the run.
            ...['--submission-rebroadcast-ms', '1000', '--submission-check-ms', '500'],
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
    const urlOf = (i: number) => backends[i % backends.length]!.url
    for (let i = 0; i < options.clients; i++) clients.push(filterClient(i, urlOf(i), plan, random))
    const producers = producerClients((i) => urlOf(options.clients + i), plan, submitKey, random)
    clients.push(producers.accounts, producers.state, producers.submissions, producers.dormant)
    submitter = new Submitter(
      producers.submissions.client,
      submitKey,
      anvil,
      Number(await anvil.rpc<Hex>('eth_chainId')),
      plan.tokens[0]!,
      plan.recipients[2]!,
    )
    for (const { client } of clients) await client.setUp()
    // Each gap of the dormant client gets a client back-filling it, started as soon as it is seen.
    const gapsSeen = new Set<string>()
    const dormant = producers.dormant.client
    dormant.observer.onGap = ({ fromBlock, toBlock }) => {
      if (gapsSeen.has(`${fromBlock}-${toBlock}`) || stopping) return
      gapsSeen.add(`${fromBlock}-${toBlock}`)
      const number = ++dormancy.gaps
      const backfill = backfillClient(number, dormant, fromBlock, urlOf(number), random)
      clients.push(backfill)
      backfills.push(setUpInTime(backfill.client, () => stopping).then((ok) => ok && backfill.client.start()))
    }
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
    const storeBase = await readStore(anvil.node.httpUrl, plan.store, first - 1)
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
        submit: (r) => submitter!.submit(r),
        makeDormant: (r) => makeDormant(backends, adminToken, dormant, r, dormancy),
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
    await Promise.all(backfills)
    // The truth is read again whenever the node's head moved: the backend still rebroadcasts
    // submissions the node lost, and the node mines each one it takes back.
    type Truth = { last: number; judge: () => DeliveryCheck[] }
    const truthAt = async (head: number): Promise<Truth> => {
      const chain = await fetchFinalChain(node.node.httpUrl, first, head)
      const finalized = Number((await node.block('finalized')).number)
      const state = await stateTruth(node.node.httpUrl, chain, plan.store, storeBase, first)
      stateCounts.unreadable = state.unreadable
      stateCounts.changedBlocks = state.readable.size + state.unreadable
      const judgesOf = (record: ClientRecord): HoldingJudge[] => [
        ...(record.interests.some((i) => i.watches)
          ? [
              stateJudge(
                state,
                STATE_WATCHES.map((watch) => watch.kind),
              ),
            ]
          : []),
        ...(record.submissions ? [submissionJudge(record.submissions, chain, finalized)] : []),
      ]
      return {
        last: head,
        judge: () =>
          clients.map(({ client }) =>
            checkDeliveries(
              client.record,
              expectedItems(chain.receipts, client.record),
              judgesOf(client.record),
              expectedBelowFirst(chain.receipts, client.record),
            ),
          ),
      }
    }
    let truth = await truthAt(await anvil.blockNumber())
    const judge = async () => {
      const head = await node.blockNumber()
      if (head !== truth.last) truth = await truthAt(head)
      last = truth.last
      return truth.judge()
    }
    await waitUntil(
      async () => {
        checks = await judge()
        return checks.every((check) => check.lost === 0 && check.wrong === 0)
      },
      60_000,
      'every client to hold its matches',
      500,
    ).catch(() => {})
    stopping = true
    for (const { client } of clients) await client.stop()
    checks = await judge()
    const reports = await Promise.all(backends.map((b) => health(b)))
    chainAlarm = reports.find((report) => report?.chain?.alarm)?.chain?.alarm
    terms = Math.max(0, ...reports.map((report) => report?.leadership?.term ?? 0))
    settleSeconds = (Date.now() - settling) / 1000
    const exits = backends.flatMap((b) => b.unexpectedExits)
    if (exits.length > 0) failure = `a backend exited by itself: ${exits.join(', ')}`
    if (checks.some((check) => check.lost + check.wrong > 0))
      nodeBroken = await nodeIntegrity(anvil.node.httpUrl, 0, contracts).catch(() => undefined)
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error)
    // The stack says whether the harness or the backend's answers failed the run.
    options.log(`soak: failed: ${error instanceof Error ? (error.stack ?? failure) : failure}`)
    try {
      options.log(`soak: end of the backend log:\n${readFileSync(logFile, 'utf8').slice(-4_000)}`)
    } catch {}
    if (anvil) nodeBroken = await nodeIntegrity(anvil.node.httpUrl, 0, contracts).catch(() => undefined)
  } finally {
    stopping = true
    await Promise.all(backfills).catch(() => {})
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
    clients: clients.map(({ kind, role, client }, i) => ({
      name: client.record.name,
      kind,
      role,
      stats: client.stats,
      check: checks[i],
    })),
    producers: Object.fromEntries(
      ROLES.map((role) => [role, sumChecks(checks.filter((_, i) => clients[i]?.role === role))]),
    ) as Record<Role, DeliveryCheck>,
    submissions: submitter?.counts ?? { signed: 0, accepted: 0, refused: 0 },
    dormancy,
    state: stateCounts,
    total: sumChecks(checks),
    failure,
    nodeBroken,
  }
}
