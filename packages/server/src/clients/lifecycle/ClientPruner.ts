import { sql } from 'kysely'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { bytesToHex } from 'viem'
import type { Config } from '../../config/settings.js'
import { type ClientIndexes, makeDormant, type StageWriter } from './clientStages.js'
import { collectGarbage, type GarbageCollected } from './collectGarbage.js'
import { deleteClient, pruneClient } from './pruneClient.js'
import type { StageReason, StageTransitions } from './StageTransitions.js'

/** When a client counts as abandoned (docs/operations.md, Abandoned clients): the settings of the same names, in seconds. */
export type PrunePolicy = Pick<
  Config,
  | 'dormantAfterSeconds'
  | 'absentAfterSeconds'
  | 'dormantAbsentBacklogItems'
  | 'dormantAbsentWork'
  | 'pruneAfterSeconds'
  | 'walletStateRetentionSeconds'
>

export type PruneRun = {
  at: string
  dormant: number
  pruned: number
  deleted: number
  garbage: GarbageCollected
}

export type PrunerStatus = {
  intervalMs: number
  running: boolean
  lastRun?: PruneRun
  lastError?: string
}

const BATCH = 500

/**
 * The abandoned-client policy, in the background, in bounded batches per pass: stage 1 makes
 * clients dormant that have been away long enough — or away a while with a large backlog, or with
 * filters that cost a lot while they were gone; stage 2 prunes clients dormant long enough; a
 * pruned client that does not come back within the wallet-state retention is deleted whole. Each
 * pass then collects rows nobody refers to any more. Time comes from `now`, so that tests can
 * move it; the database's own clock is never asked.
 */
export class ClientPruner {
  #timer: NodeJS.Timeout | undefined
  #running: Promise<PruneRun> | undefined
  #lastRun: PruneRun | undefined
  #lastError: string | undefined
  readonly #log: Logger
  readonly #clients: Gauge<'stage'>
  readonly #garbage: Counter<'table'>

  constructor(
    private readonly options: {
      indexes: ClientIndexes
      policy: PrunePolicy
      /** Makes clients dormant: the follower's turn and the queue's writer. */
      stages: StageWriter
      finalized: () => number | undefined
      transitions: StageTransitions
      logger: Logger
      metrics: Registry
      intervalMs: number
      now?: () => number
      batchSize?: number
    },
  ) {
    this.#log = options.logger.child({ component: 'pruner' })
    this.#clients = new Gauge({
      name: 'wallet_backend_clients',
      help: 'Clients by stage (active, dormant, pruned), as of the last pruner pass',
      labelNames: ['stage'],
      registers: [options.metrics],
    })
    this.#garbage = new Counter({
      name: 'wallet_backend_garbage_collected_total',
      help: 'Rows nobody referred to any more, deleted by the pruner, by table',
      labelNames: ['table'],
      registers: [options.metrics],
    })
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.run().catch(() => {})
    }, this.options.intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running?.catch(() => {})
  }

  status(): PrunerStatus {
    return {
      intervalMs: this.options.intervalMs,
      running: this.#running !== undefined,
      ...(this.#lastRun ? { lastRun: this.#lastRun } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    }
  }

  /** One pass (or the one already under way). */
  run(): Promise<PruneRun> {
    this.#running ??= this.#pass()
      .then((run) => {
        this.#lastRun = run
        this.#lastError = undefined
        return run
      })
      .catch((error: unknown) => {
        this.#lastError = error instanceof Error ? error.message : String(error)
        this.#log.warn({ err: error }, 'pruner pass failed')
        throw error
      })
      .finally(() => {
        this.#running = undefined
      })
    return this.#running
  }

  async #pass(): Promise<PruneRun> {
    const { indexes, policy, transitions } = this.options
    const { db } = indexes
    const now = new Date((this.options.now ?? Date.now)())
    const limit = this.options.batchSize ?? BATCH
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000)
    // Stage 1: dormant.
    const absentSince = ago(policy.absentAfterSeconds)
    const { rows: sleepy } = await sql<{ id: Uint8Array; reason: StageReason }>`
        select c.id,
          case when c.last_seen_at < ${ago(policy.dormantAfterSeconds)} then 'absent'
               when c.backlog_items > ${policy.dormantAbsentBacklogItems} then 'absent-backlog'
               else 'absent-work' end as reason
        from clients c left join client_usage u on u.client_id = c.id
        where c.stage = 'active' and c.last_seen_at < ${absentSince}
          and (c.last_seen_at < ${ago(policy.dormantAfterSeconds)}
            or c.backlog_items > ${policy.dormantAbsentBacklogItems}
            or coalesce(u.work_while_absent, 0) > ${policy.dormantAbsentWork})
        order by c.last_seen_at
        limit ${limit}`.execute(db)
    let dormant = 0
    for (const row of sleepy) {
      if (await makeDormant(this.options.stages, bytesToHex(row.id), now)) {
        dormant++
        transitions.count('dormant', row.reason)
      }
    }

    // Stage 2: pruned.
    const overdue = (stage: 'dormant' | 'pruned', seconds: number) =>
      db
        .selectFrom('clients')
        .select('id')
        .where('stage', '=', stage)
        .where('stage_changed_at', '<', ago(seconds))
        .orderBy('stage_changed_at')
        .limit(limit)
        .execute()
    let pruned = 0
    for (const row of await overdue('dormant', policy.pruneAfterSeconds))
      if (await pruneClient(indexes, bytesToHex(row.id), now)) pruned++
    transitions.count('pruned', 'absent', pruned)

    // The end of the wallet-state retention: the client goes whole.
    let deleted = 0
    for (const row of await overdue('pruned', policy.walletStateRetentionSeconds))
      if (await deleteClient(indexes, bytesToHex(row.id))) deleted++
    transitions.count('deleted', 'retention', deleted)

    const garbage = await collectGarbage(db, { finalized: this.options.finalized(), limit, now })
    for (const [table, rows] of Object.entries(garbage)) if (rows > 0) this.#garbage.inc({ table }, rows)
    const stages = await db
      .selectFrom('clients')
      .select(['stage', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('stage')
      .execute()
    for (const stage of ['active', 'dormant', 'pruned'])
      this.#clients.set({ stage }, Number(stages.find((s) => s.stage === stage)?.n ?? 0))
    const run = { at: now.toISOString(), dormant, pruned, deleted, garbage }
    if (dormant + pruned + deleted > 0) this.#log.info(run, 'abandoned clients: pass done')
    return run
  }
}
