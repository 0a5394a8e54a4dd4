import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import type { LeaderRuntime, SharedRuntime } from '../api/AppContext.js'
import { getCanonicalHead } from '../chain/follower/blockStore.js'
import { combineListeners } from '../chain/follower/ChainListener.js'
import { Follower, type FollowerStatus } from '../chain/follower/Follower.js'
import type { RpcClient } from '../chain/rpc/RpcClient.js'
import type { CostLimiter } from '../clients/abuse/CostLimiter.js'
import { ClientPruner } from '../clients/lifecycle/ClientPruner.js'
import type { StageTransitions } from '../clients/lifecycle/StageTransitions.js'
import type { PlanBook } from '../clients/plans/PlanBook.js'
import type { Config } from '../config/settings.js'
import { StateWatcher } from '../contract-state/StateWatcher.js'
import { WatchIndex } from '../contract-state/WatchIndex.js'
import { AccountActivityProducer } from '../delivery/AccountActivityProducer.js'
import { AccountBackfill } from '../delivery/backfill/AccountBackfill.js'
import { BackfillRunner } from '../delivery/backfill/BackfillRunner.js'
import { DeliveryListener } from '../delivery/DeliveryListener.js'
import { DeliveryQueue } from '../delivery/DeliveryQueue.js'
import { DeploymentSweeper } from '../delivery/DeploymentSweeper.js'
import { Deployments } from '../delivery/Deployments.js'
import { InternalTransfers } from '../delivery/InternalTransfers.js'
import { TokenMetadata } from '../delivery/TokenMetadata.js'
import { AccountIndex } from '../filters/AccountIndex.js'
import { FilterIndex } from '../filters/FilterIndex.js'
import { RpcFilterListener } from '../jsonrpc/RpcFilterListener.js'
import type { BackgroundTasks } from '../lifecycle/BackgroundTasks.js'
import { LeadershipFence } from '../lifecycle/leadership/LeadershipFence.js'
import { SubmissionTracker } from '../submissions/SubmissionTracker.js'

/** What the leader's parts are built from: the instance's shared runtime and its long-lived services. */
export type LeaderDependencies = {
  term: number
  shared: SharedRuntime
  node: RpcClient
  config: Config
  logger: Logger
  metrics: Registry
  plans: PlanBook
  limiter: CostLimiter
  transitions: StageTransitions
  tasks: BackgroundTasks
  /** The clock of the abandoned-client policy. */
  clock: () => number
  /** The fence found another instance writing under a newer term: this one must step down. */
  onLeadershipLost: (reason: string) => void
  /** The follower's view of the node and the database, for the lifecycle state. */
  onFollowerStatus: (status: FollowerStatus) => void
}

/**
 * What runs only while this instance leads, built and not yet started: the in-memory indexes
 * loaded afresh from the database, the follower with its listeners behind the term's fence,
 * back-fills, submissions, the deployment sweep and the pruner.
 */
export type Leader = LeaderRuntime & {
  sweeper: DeploymentSweeper
  pruner: ClientPruner
  internalTransfers: InternalTransfers
  /** Starts following and the work around it, in the order the parts depend on each other. */
  start(): Promise<void>
  /** Stops everything that writes as the leader; the follower last, after what reads from it. */
  stop(): Promise<void>
}

export async function buildLeader(deps: LeaderDependencies): Promise<Leader> {
  const { shared, node: rpc, config, logger, metrics, limiter } = deps
  const { db } = shared
  const filters = await FilterIndex.load(db)
  const watches = await WatchIndex.load(db)
  const chargeFilterWork = (work: ReadonlyMap<Hex, number>) => {
    for (const [clientId, units] of work)
      limiter.addCost('client', clientId, units / config.filterWorkPerCostUnit)
  }
  const queue = new DeliveryQueue({
    db,
    notifier: shared.notifier,
    logger,
    metrics,
    usage: shared.usage,
    plans: deps.plans,
    transitions: deps.transitions,
    // A dormant client keeps its accounts in the index: the queue refuses their items.
    onDormant: (clientIds) => {
      for (const id of clientIds) {
        filters.removeClient(id)
        watches.removeClient(id)
      }
    },
  })
  const deployments = new Deployments()
  await deployments.load(db)
  const contractState = new StateWatcher({
    db,
    node: rpc,
    index: watches,
    queue,
    deployments,
    logger,
    metrics,
    chargeReads: (reads) => {
      for (const [clientId, share] of reads) {
        shared.usage.add(clientId, 'state_reads', share)
        limiter.addCost('client', clientId, share / config.stateReadsPerCostUnit)
      }
    },
  })
  const accounts = await AccountIndex.load(db)
  const chargeAccountWork = (work: ReadonlyMap<Hex, number>) => {
    for (const [clientId, units] of work) shared.usage.add(clientId, 'filter_work', units)
    chargeFilterWork(work)
  }
  const tokens = new TokenMetadata({ db, node: rpc })
  const internalTransfers = new InternalTransfers(rpc)
  const accountActivity = new AccountActivityProducer({
    index: accounts,
    chargeWork: chargeAccountWork,
    tokens,
    internal: internalTransfers,
  })
  const delivery = new DeliveryListener({
    filters,
    queue,
    deployments,
    producers: [contractState, accountActivity],
    logger,
    usage: shared.usage,
    chargeFilterWork,
  })
  const fence = new LeadershipFence({
    term: deps.term,
    finality: () => {
      const { safe, finalized } = follower.snapshot() ?? {}
      return { safe, finalized }
    },
    onLost: (error) => {
      logger.error({ term: deps.term }, error.message)
      deps.onLeadershipLost(error.message)
    },
  })
  const rpcFilters = new RpcFilterListener({
    idleMs: config.rpcFilterIdleMs,
    logger,
    wake: (clientIds) => {
      shared.notifier
        .notify(clientIds)
        .catch((error: unknown) => logger.warn({ err: error }, 'notify failed'))
    },
  })
  const submissions = new SubmissionTracker({
    db,
    node: rpc,
    // The follower below: the tracker waits for its turn only once it runs.
    follower: { exclusive: (fn) => follower.exclusive(fn), snapshot: () => follower.snapshot() },
    queue,
    logger,
    metrics,
    ttlMs: config.submissionTtlMs,
    rebroadcastMs: config.submissionRebroadcastMs,
    checkMs: config.submissionCheckMs,
  })
  await submissions.load()
  const follower: Follower = new Follower({
    db,
    node: rpc,
    // The order the listeners run in, in each batch's transaction: the fence first (a deposed
    // leader's commit fails there), then matching and queuing (a reorg's items are withdrawn before
    // anyone queues anew), the producers' own bookkeeping, the JSON-RPC filters, and submissions.
    listener: combineListeners([fence, delivery, accountActivity, contractState, rpcFilters, submissions]),
    logger,
    metrics,
    pollIntervalMs: config.pollIntervalMs,
    headPolling: config.headPolling,
    startBlock: config.startBlock,
    confirmations: config.confirmations,
    unknownTransactionTypes: config.unknownTransactionTypes,
    batchSize: config.catchUpBatchSize,
    retainFinalizedBlocks: config.retainFinalizedBlocks,
    ...(rpc.supportsSubscriptions
      ? {
          subscribeHeads: (onHead: () => void) =>
            rpc.subscribeNewHeads(onHead, () => {
              logger.warn('newHeads subscription renewed after a dropped connection; re-syncing')
              onHead()
            }),
        }
      : {}),
  })
  const chargeBackfillCalls = (clientId: Hex, calls: number) => {
    shared.usage.add(clientId, 'backfill_calls', calls)
    limiter.addCost('client', clientId, calls / config.backfillCallsPerCostUnit)
  }
  const backfills = new BackfillRunner({
    db,
    node: rpc,
    follower,
    delivery,
    queue,
    tasks: deps.tasks,
    logger,
    chargeCalls: chargeBackfillCalls,
    overBudget: (clientId, plan) =>
      limiter.cost('client', clientId) >= limiter.limitsOf('client', deps.plans.get(plan)).hard,
  })
  const accountBackfills = new AccountBackfill({
    db,
    node: rpc,
    follower,
    delivery,
    queue,
    accounts,
    tasks: deps.tasks,
    logger,
    chargeWork: chargeAccountWork,
    chargeCalls: chargeBackfillCalls,
    tokens,
  })
  const sweeper = new DeploymentSweeper({
    node: rpc,
    follower,
    queue,
    deployments,
    logger,
    intervalMs: config.deploymentSweepMs,
  })
  const pruner = new ClientPruner({
    indexes: { db, filters, contractState, accounts },
    stages: { follower, queue },
    policy: config,
    finalized: () => follower.snapshot().finalized?.number,
    transitions: deps.transitions,
    logger,
    metrics,
    intervalMs: config.pruneIntervalMs,
    now: deps.clock,
  })
  let unsubscribe: (() => void) | undefined
  return {
    ...shared,
    follower,
    filters,
    accounts,
    accountBackfills,
    delivery,
    queue,
    backfills,
    contractState,
    submissions,
    sweeper,
    pruner,
    internalTransfers,
    async start() {
      unsubscribe = follower.onStatus(deps.onFollowerStatus)
      delivery.setPosition((await getCanonicalHead(db))?.number)
      await contractState.start(follower)
      await follower.start()
      await backfills.resume()
      await accountBackfills.resume()
      submissions.start()
      sweeper.start()
      pruner.start()
    },
    async stop() {
      unsubscribe?.()
      await sweeper.stop()
      await pruner.stop()
      await backfills.stop()
      await accountBackfills.stop()
      await submissions.stop()
      await follower.stop()
    },
  }
}
