import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { AppContext, SharedRuntime } from '../api/AppContext.js'
import { buildApp } from '../api/buildApp.js'
import { NotReadyError } from '../api/NotReadyError.js'
import { accountRoutes } from '../api/routes/accountRoutes.js'
import { authRoutes } from '../api/routes/authRoutes.js'
import { deliveryRoutes } from '../api/routes/deliveryRoutes.js'
import { interestRoutes } from '../api/routes/interestRoutes.js'
import { proofRoutes } from '../api/routes/proofRoutes.js'
import { transactionRoutes } from '../api/routes/transactionRoutes.js'
import { usageRoutes } from '../api/routes/usageRoutes.js'
import { walletStateRoutes } from '../api/routes/walletStateRoutes.js'
import type { HealthReport } from '../api/schemas/Health.js'
import type { Follower, FollowerStatus } from '../chain/follower/Follower.js'
import { CostLimiter } from '../clients/abuse/CostLimiter.js'
import type { ClientPruner } from '../clients/lifecycle/ClientPruner.js'
import { StageTransitions } from '../clients/lifecycle/StageTransitions.js'
import { PlanBook } from '../clients/plans/PlanBook.js'
import { UsageMeter } from '../clients/usage/UsageMeter.js'
import type { Config } from '../config/settings.js'
import type { ChainPosition } from '../delivery/deliveryStore.js'
import type { InternalTransfers } from '../delivery/InternalTransfers.js'
import { Notifier } from '../delivery/Notifier.js'
import { StreamHub } from '../delivery/StreamHub.js'
import { jsonRpcRoutes } from '../jsonrpc/jsonRpcRoutes.js'
import { BackgroundTasks } from '../lifecycle/BackgroundTasks.js'
import { Lifecycle } from '../lifecycle/Lifecycle.js'
import { NoLeaderError } from '../lifecycle/leadership/errors.js'
import { LeaderElection, type Role } from '../lifecycle/leadership/LeaderElection.js'
import type { LoggerHandle } from '../observability/createLogger.js'
import { createMetrics } from '../observability/createMetrics.js'
import type { Storage } from '../storage/openStorage.js'
import { VERSION } from '../version.js'
import { buildLeader, type Leader } from './buildLeader.js'
import { connectNode, type NodeConnection } from './connectNode.js'
import { connectStorage, type StorageConnection } from './connectStorage.js'
import { healthReport } from './healthReport.js'
import { prepareDataDir } from './prepareDataDir.js'
import { readOrCreateAdminToken } from './readOrCreateAdminToken.js'

/** Connections the kernel may hold for the server before it accepts them. */
const LISTEN_BACKLOG = 4096

export type ServiceOptions = {
  config: Config
  logging: LoggerHandle
  /** Called for progress a person at a terminal wants to see (listening URL, node, data directory). */
  announce?: (line: string) => void
  /** The clock of the abandoned-client policy (tests move it); Date.now by default. */
  clock?: () => number
}

/**
 * The running backend: HTTP first (so /health answers while everything else comes up), then
 * storage, then the node, then the chain. Each outside dependency that is lost moves the
 * lifecycle to `degraded` and back; nothing here gives up on its own.
 */
export class Service {
  readonly config: Config
  readonly dataDir: string
  readonly logger: Logger
  readonly metrics: Registry
  readonly lifecycle: Lifecycle
  readonly #logging: LoggerHandle
  readonly #announce: (line: string) => void
  readonly #startedAt = Date.now()
  #app: FastifyInstance | undefined
  #url: string | undefined
  #storage: StorageConnection | undefined
  #node: NodeConnection | undefined
  #shared: SharedRuntime | undefined
  #election: LeaderElection | undefined
  /** What runs only while this instance leads. */
  #leader: Leader | undefined
  /** Where internal transfers come from, once this instance has led (`/health` says which). */
  #internalTransfers: InternalTransfers | undefined
  #notifier: Notifier | undefined
  #usage: UsageMeter | undefined
  readonly #clock: () => number
  readonly plans: PlanBook
  readonly #transitions: StageTransitions
  readonly #limiter: CostLimiter
  readonly #tasks: BackgroundTasks
  #stopping: Promise<void> | undefined
  readonly #abort = new AbortController()

  private constructor(options: ServiceOptions) {
    this.config = options.config
    this.dataDir = resolve(options.config.dataDir)
    this.#logging = options.logging
    this.logger = options.logging.logger
    this.#announce = options.announce ?? (() => {})
    this.metrics = createMetrics()
    this.lifecycle = new Lifecycle({ logger: this.logger, metrics: this.metrics })
    this.#tasks = new BackgroundTasks({ logger: this.logger, metrics: this.metrics })
    this.#clock = options.clock ?? Date.now
    this.plans = new PlanBook(options.config, this.logger.child({ component: 'plans' }))
    this.#transitions = new StageTransitions(this.metrics)
    const plan = this.plans.get('default')
    this.#limiter = new CostLimiter(
      {
        client: { perSecond: plan.costPerSecond, soft: plan.costBurst / 2, hard: plan.costBurst },
        subnet: {
          perSecond: this.config.subnetCostPerSecond,
          soft: this.config.subnetCostBurst / 2,
          hard: this.config.subnetCostBurst,
        },
      },
      { logger: this.logger, metrics: this.metrics },
    )
  }

  /** Starts the service and resolves once the HTTP server listens; the rest comes up in the background. */
  static async start(options: ServiceOptions): Promise<Service> {
    const service = new Service(options)
    await service.#listen()
    service.#bringUp().catch((error: unknown) => {
      if (service.#abort.signal.aborted) return
      service.logger.fatal({ err: error }, 'the service cannot come up')
      service.#fail(error instanceof Error ? error : new Error(String(error)))
    })
    return service
  }

  #fail!: (error: Error) => void
  /**
   * Settles only if the service cannot come up at all (a node of another chain, an unusable data
   * directory); outages of the node or the database never settle it, they degrade.
   */
  readonly failed: Promise<Error> = new Promise((resolve) => {
    this.#fail = resolve
  })

  get url(): string {
    if (!this.#url) throw new Error('the service is not listening')
    return this.#url
  }

  async #listen(): Promise<void> {
    prepareDataDir(this.dataDir)
    const context: AppContext = {
      config: this.config,
      logger: this.logger,
      metrics: this.metrics,
      lifecycle: this.lifecycle,
      adminToken: this.config.adminToken ?? readOrCreateAdminToken(this.dataDir),
      setLogLevel: this.#logging.setLevel,
      plans: this.plans,
      transitions: this.#transitions,
      limiter: this.#limiter,
      health: () => this.health(),
      publicOrigin: () => new URL(this.config.publicUrl ?? this.url).origin,
      leadership: () => {
        const role = this.#election?.role
        if (!role || !this.#election) throw new NotReadyError(this.lifecycle.state)
        if (role.kind === 'leader') return { kind: 'leader', secret: role.secret }
        return { kind: 'standby', url: role.leader?.url, secret: role.leader?.secret }
      },
      runtime: () => {
        if (!this.#shared) throw new NotReadyError(this.lifecycle.state)
        return this.#shared
      },
      leader: () => {
        if (!this.#shared) throw new NotReadyError(this.lifecycle.state)
        // A route that reaches this on a standby forgot to say it is leader-only: a 503, rather
        // than an index this instance does not keep.
        if (!this.#leader)
          throw new NoLeaderError('this instance stands by, and the follower lives on the leader')
        return this.#leader
      },
    }
    this.#app = await buildApp(context, [
      { prefix: '/v1/auth', plugin: authRoutes },
      { prefix: '/v1/interests', plugin: interestRoutes },
      { prefix: '/v1/accounts', plugin: accountRoutes },
      { prefix: '/v1', plugin: deliveryRoutes },
      { prefix: '/v1/wallet-state', plugin: walletStateRoutes },
      { prefix: '/v1/usage', plugin: usageRoutes },
      { prefix: '/v1', plugin: proofRoutes },
      { prefix: '/v1/transactions', plugin: transactionRoutes },
      { prefix: '', plugin: jsonRpcRoutes },
    ])
    // Wallets come back all at once after a restart: Node's default queue of 511 connections not
    // yet accepted overflowed with a few thousand, and the rest were reset before a byte was read.
    // The kernel caps it at net.core.somaxconn (4096 on current Linux).
    const address = await this.#app.listen({
      host: this.config.host,
      port: this.config.port,
      backlog: LISTEN_BACKLOG,
    })
    this.#url = address
    this.#announce(`wallet-backend ${VERSION} listening on ${address}`)
    this.#announce(`data directory: ${this.dataDir}`)
    this.logger.info({ url: address, dataDir: this.dataDir }, 'listening')
  }

  async #bringUp(): Promise<void> {
    const signal = this.#abort.signal
    const waiting = (reason: string) => this.lifecycle.tryTransition('connecting', reason)
    this.lifecycle.transition('connecting', 'opening storage')
    this.#storage = await connectStorage({
      config: this.config,
      dataDir: this.dataDir,
      logger: this.logger,
      signal,
      onWaiting: waiting,
    })
    this.#announce(`storage: ${this.#storage.describe()}`)
    this.lifecycle.transition('connecting', 'connecting to the node')
    this.#node = await connectNode({
      config: this.config,
      dataDir: this.dataDir,
      logger: this.logger,
      metrics: this.metrics,
      signal,
      onWaiting: waiting,
    })
    this.#announce(`node: ${this.#node.describe()}`)
    signal.throwIfAborted()
    const { rpc } = this.#node
    const { db } = this.#storage.storage
    rpc.onAvailability((available, reason) => this.#setCondition('node', available ? undefined : reason))
    const notifier = new Notifier(this.#storage.storage)
    await notifier.start()
    this.#notifier = notifier
    // Instances on one PostgreSQL database share each client's budget; PGlite has one instance.
    if (this.#storage.storage.driver === 'postgres') this.#limiter.share(db)
    const usage = new UsageMeter(db, this.logger, this.metrics)
    usage.start()
    this.#usage = usage
    this.#shared = {
      db,
      chainId: this.#node.chainId,
      notifier,
      node: rpc,
      usage,
      chain: () => this.#chainPosition(),
      streams: new StreamHub({
        db,
        notifier,
        chain: () => this.#chainPosition(),
        logger: this.logger,
        metrics: this.metrics,
      }),
    }
    this.#election = new LeaderElection({
      storage: this.#storage.storage,
      url: this.config.advertiseUrl ?? this.url,
      logger: this.logger,
      retryMs: this.config.leaderRetryMs,
      onElected: (term) => this.#lead(term),
      onStandby: (leader) => {
        this.#catchingUp = undefined
        this.#standingBy = leader.url
          ? `standing by: the instance at ${leader.url} follows the chain (term ${leader.term})`
          : 'standing by: no instance follows the chain yet'
        this.#reconcile()
      },
      onDeposed: (reason) => this.#standBy(reason),
    })
    this.#catchingUp = 'electing the instance that follows the chain'
    this.#reconcile()
    this.#election.start()
  }

  /** Elected: builds what follows the chain, serves it to the routes, then starts it. */
  async #lead(term: number): Promise<void> {
    const shared = this.#shared!
    const leader = await buildLeader({
      term,
      shared,
      node: this.#node!.rpc,
      config: this.config,
      logger: this.logger,
      metrics: this.metrics,
      plans: this.plans,
      limiter: this.#limiter,
      transitions: this.#transitions,
      tasks: this.#tasks,
      clock: this.#clock,
      onLeadershipLost: (reason) => void this.#election?.resign(reason),
      onFollowerStatus: (status) => this.#followerStatus(status),
    })
    this.#leader = leader
    this.#internalTransfers = leader.internalTransfers
    this.#catchingUp = 'starting to follow the chain'
    this.#reconcile()
    await leader.start()
  }

  /** The follower's view of the node and the database; the lifecycle state follows from it. */
  #followerStatus(status: FollowerStatus): void {
    if (status.kind === 'node-unavailable') this.#setCondition('node', status.reason)
    else if (status.kind === 'storage-unavailable') this.#setCondition('storage', status.reason)
    else {
      this.#catchingUp = status.kind === 'catching-up' ? status.reason : undefined
      this.#conditions.delete('storage')
      this.#setCondition('node', undefined)
    }
  }

  /** No longer the leader: stops everything that writes as one, and serves as a standby. */
  async #standBy(reason: string): Promise<void> {
    const leader = this.#leader
    this.#leader = undefined
    this.#catchingUp = 'electing the instance that follows the chain'
    this.#reconcile()
    if (!leader) return
    await leader.stop()
    // Stepping down to stop hands nothing over that an operator should look for.
    if (!this.#abort.signal.aborted)
      this.logger.info({ reason }, 'standing by: another instance may follow the chain')
  }

  #chainPosition(): ChainPosition {
    if (this.#leader) {
      const { head, finalized } = this.#leader.follower.snapshot()
      return { head, finalized }
    }
    const role = this.#election?.role
    const known = role?.kind === 'standby' ? role.leader : undefined
    return {
      head: known?.head,
      finalized: known?.finalized === undefined ? undefined : { number: known.finalized },
    }
  }

  /** Where this instance stands among those sharing the database. */
  get role(): Role | undefined {
    return this.#election?.role
  }

  /** The abandoned-client policy and garbage collection, once the service is up. */
  get pruner(): ClientPruner | undefined {
    return this.#leader?.pruner
  }

  /** What is wrong right now, by dependency; the lifecycle state follows from it. */
  readonly #conditions = new Map<'node' | 'storage', string>()
  #catchingUp: string | undefined = undefined
  #standingBy: string | undefined = undefined

  #setCondition(name: 'node' | 'storage', problem: string | undefined): void {
    if (problem === undefined) this.#conditions.delete(name)
    else this.#conditions.set(name, problem)
    this.#reconcile()
  }

  #reconcile(): void {
    if (this.#abort.signal.aborted) return
    const problems = [...this.#conditions.entries()].map(([name, problem]) => `${name}: ${problem}`)
    if (problems.length > 0) this.lifecycle.tryTransition('degraded', problems.join('; '))
    else if (this.#catchingUp) this.lifecycle.tryTransition('catching-up', this.#catchingUp)
    else if (this.#leader)
      this.lifecycle.tryTransition(
        'live',
        `following the chain at block ${this.#leader.follower.snapshot().head?.number}`,
      )
    else if (this.#standingBy) this.lifecycle.tryTransition('live', this.#standingBy)
  }

  /** The chain follower, while this instance leads. */
  get follower(): Follower | undefined {
    return this.#leader?.follower
  }

  get storage(): Storage | undefined {
    return this.#storage?.storage
  }

  get node(): NodeConnection | undefined {
    return this.#node
  }

  health(): HealthReport {
    const node = this.#node
    const election = this.#election
    return healthReport({
      lifecycle: this.lifecycle.snapshot(),
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      nodeMode: this.config.nodeUrls.length === 0 ? 'embedded' : 'external',
      node: node && {
        chainId: node.chainId,
        available: node.rpc.available ?? false,
        endpoints: node.rpc.status(),
      },
      storage: {
        driver: this.config.databaseUrl ? 'postgres' : 'pglite',
        opened: this.#storage !== undefined,
        problem: this.#conditions.get('storage'),
      },
      position: this.#chainPosition(),
      follower: this.#leader?.follower.snapshot(),
      traces: this.#internalTransfers?.source,
      election: election && { role: election.role, holder: election.holder, lastError: election.lastError },
      background: this.#tasks.list(),
      failedBackground: this.#tasks.failed(),
      pruner: this.#leader?.pruner.status(),
    })
  }

  /** Drains and stops everything; safe to call more than once. */
  stop(reason = 'stop requested'): Promise<void> {
    this.#stopping ??= this.#stop(reason)
    return this.#stopping
  }

  async #stop(reason: string): Promise<void> {
    this.#abort.abort()
    this.lifecycle.transition('draining', reason)
    // Stop taking requests first, then the chain (its last batch commits), then what it used.
    await this.#app?.close()
    // Stepping down stops the follower and its work, and frees the lock for a standby at once.
    await this.#election?.stop()
    await this.#usage?.stop()
    await this.#limiter.stopSharing().catch(() => {})
    await this.#notifier?.stop()
    await this.#node?.close()
    await this.#storage?.storage.close()
    this.lifecycle.transition('stopped', 'drained')
  }
}
