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
import type { BackfillRunner } from '../delivery/backfill/BackfillRunner.js'
import type { DeliveryListener } from '../delivery/DeliveryListener.js'
import type { Notifier } from '../delivery/Notifier.js'
import type { StreamHub } from '../delivery/StreamHub.js'
import type { FilterIndex } from '../filters/FilterIndex.js'
import type { Lifecycle } from '../lifecycle/Lifecycle.js'
import type { LogLevel } from '../observability/createLogger.js'
import type { DB } from '../storage/schema.js'
import type { SubmissionTracker } from '../submissions/SubmissionTracker.js'
import type { HealthReport } from './schemas/Health.js'

/** What client routes need once the service is up (storage open, node connected). */
export type Runtime = {
  db: Kysely<DB>
  chainId: number
  follower: Follower
  notifier: Notifier
  filters: FilterIndex
  delivery: DeliveryListener
  node: NodeClient
  backfills: BackfillRunner
  streams: StreamHub
  usage: UsageMeter
  contractState: StateWatcher
  submissions: SubmissionTracker
}

/** What the HTTP layer needs from the running service; routes get it and nothing else. */
export type AppContext = {
  /** The runtime, or a NotReadyError (503 with Retry-After) while the service is still connecting. */
  runtime(): Runtime
  config: Config
  logger: Logger
  metrics: Registry
  lifecycle: Lifecycle
  adminToken: string
  limiter: CostLimiter
  /** The configured plans (quotas per client), changeable at runtime through the admin API. */
  plans: PlanBook
  /** Counts stage changes of clients (dormant, pruned, deleted) by reason. */
  transitions?: StageTransitions
  setLogLevel(level: LogLevel): void
  health(): HealthReport
}
