import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Follower } from '../chain/follower/Follower.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { CostLimiter } from '../clients/abuse/CostLimiter.js'
import type { StageTransitions } from '../clients/lifecycle/StageTransitions.js'
import type { PlanBook } from '../clients/plans/PlanBook.js'
import type { UsageMeter } from '../clients/usage/UsageMeter.js'
import type { Config } from '../config/settings.js'
import type { StateWatcher } from '../contract-state/StateWatcher.js'
import type { AccountBackfill } from '../delivery/backfill/AccountBackfill.js'
import type { BackfillRunner } from '../delivery/backfill/BackfillRunner.js'
import type { DeliveryListener } from '../delivery/DeliveryListener.js'
import type { DeliveryQueue } from '../delivery/DeliveryQueue.js'
import type { ChainPosition } from '../delivery/deliveryStore.js'
import type { Notifier } from '../delivery/Notifier.js'
import type { StreamHub } from '../delivery/StreamHub.js'
import type { AccountIndex } from '../filters/AccountIndex.js'
import type { FilterIndex } from '../filters/FilterIndex.js'
import type { Lifecycle } from '../lifecycle/Lifecycle.js'
import type { LogLevel } from '../observability/createLogger.js'
import type { DB } from '../storage/schema.js'
import type { SubmissionTracker } from '../submissions/SubmissionTracker.js'
import type { HealthReport } from './schemas/Health.js'

/** What every instance serves from once it is up (storage open, node connected). */
export type SharedRuntime = {
  db: Kysely<DB>
  chainId: number
  notifier: Notifier
  node: NodeClient
  streams: StreamHub
  usage: UsageMeter
  /** Where the chain is: the follower's position on the leader, the last one it recorded on a standby. */
  chain(): ChainPosition
}

/**
 * What the leader has: what every instance has, plus the follower and the in-memory indexes it
 * matches with. Code that takes it runs on the leader only (docs/architecture.md, invariant 11).
 */
export type LeaderRuntime = SharedRuntime & {
  follower: Follower
  filters: FilterIndex
  accounts: AccountIndex
  accountBackfills: AccountBackfill
  delivery: DeliveryListener
  /** The one writer of the delivery queue. */
  queue: DeliveryQueue
  backfills: BackfillRunner
  contractState: StateWatcher
  submissions: SubmissionTracker
}

/** Where writes that need the follower go: here, or to the leader at `url`. */
export type Leadership =
  | { kind: 'leader'; secret: string }
  | { kind: 'standby'; url: string | undefined; secret: string | undefined }

/** What the HTTP layer needs from the running service; routes get it and nothing else. */
export type AppContext = {
  /** What this instance serves from, or a NotReadyError (503 with Retry-After) while the service is still connecting. */
  runtime(): SharedRuntime
  /**
   * The leader's runtime, for routes marked `leaderOnly` (a standby forwards them before they run):
   * a NoLeaderError on a standby, a NotReadyError while the service is still connecting.
   */
  leader(): LeaderRuntime
  config: Config
  /** The origin clients reach this instance at (`--public-url`, else the listening URL): sign-in messages name it. */
  publicOrigin(): string
  logger: Logger
  metrics: Registry
  lifecycle: Lifecycle
  adminToken: string
  limiter: CostLimiter
  /** The configured plans (quotas per client), changeable at runtime through the admin API. */
  plans: PlanBook
  /** Counts stage changes of clients (dormant, pruned, deleted) by reason. */
  transitions?: StageTransitions
  /** This instance's role; a PGlite service always leads. */
  leadership(): Leadership
  setLogLevel(level: LogLevel): void
  health(): HealthReport
}
