import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex } from 'viem'
import { scanLogs } from '../../chain/backfill/scanLogs.js'
import type { Follower } from '../../chain/follower/Follower.js'
import { type FetchedBlock, fetchBlocks, type ReceiptsMode } from '../../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../../chain/NodeClient.js'
import { FilterIndex, type StoredInterest } from '../../filters/FilterIndex.js'
import type { BackgroundTasks, TaskHandle } from '../../lifecycle/BackgroundTasks.js'
import type { DB } from '../../storage/schema.js'
import type { DeliveryListener } from '../DeliveryListener.js'
import type { DeliveryQueue } from '../DeliveryQueue.js'
import { advanceBackfill, backfillPosition, RewoundError, WithdrawnError } from './backfillPosition.js'
import { countCalls } from './countCalls.js'
import { OffStoredChainError, queueHistory } from './queueHistory.js'

const FETCH_BATCH = 20
/** Blocks one turn of a job reads in full before the next client's job gets its turn. */
const TURN_BLOCKS = 100
/** Blocks one turn of a logs-only job scans with eth_getLogs. */
const TURN_LOG_BLOCKS = 10_000
const LOG_CHUNK_BLOCKS = 2_000
const SEAM_WAIT_MS = 50
/** How long a turn that met a block off the stored chain waits for the follower to catch up. */
const CHAIN_MOVED_WAIT_MS = 250
/** How often a back-fill waiting for its client's budget looks again. */
const BUDGET_WAIT_MS = 250

export type BackfillRetries = {
  /** Turns in a row that may fail before the job is marked `failed`. */
  attempts: number
  /** Wait before the first retry; doubles with each failure after it. */
  firstDelayMs: number
}

export type BackfillRunnerOptions = {
  db: Kysely<DB>
  node: NodeClient
  follower: Follower
  delivery: DeliveryListener
  queue: DeliveryQueue
  tasks: BackgroundTasks
  logger: Logger
  /** Charges a client for the node calls its back-fills made (cost limit and usage). */
  chargeCalls?: (clientId: Hex, calls: number) => void
  /**
   * Whether a client (on its plan) is over its cost budget: its back-fills then wait for the
   * budget to drain, so what one client's history costs the node is bounded by its budget's rate.
   */
  overBudget?: (clientId: Hex, plan: string) => boolean
  retries?: BackfillRetries
}

type Job = {
  id: number
  clientId: Hex
  plan: string
  interest: StoredInterest
  index: FilterIndex
  everyBlock: boolean
  next: number
  startedAt: number
  task: TaskHandle
  /** Failed turns in a row. */
  failures: number
  /** Not run again before this time (a retry's back-off, or waiting for live matching). */
  notBefore: number
}

export const DEFAULT_RETRIES: BackfillRetries = { attempts: 5, firstDelayMs: 1_000 }

/**
 * Runs the back-fills of interests that asked for history (`startBlock`), in the background,
 * resumable from `backfill_jobs.next_block` after a restart. Clients take turns: each turn reads
 * a bounded run of blocks of one client's oldest job, then the next client with a job goes, so a
 * small back-fill is never queued behind another client's huge one. A client over its cost budget
 * (which its back-fills' node calls are charged to) skips its turns until the budget drains. History is scanned up to where
 * live matching stands and the interest is then handed to live matching at that exact block, so
 * its items arrive in chain order with no gap and no duplicate at the seam. A job whose turns keep
 * failing is retried with back-off a bounded number of times, then marked `failed` with its error.
 */
export class BackfillRunner {
  readonly #o: BackfillRunnerOptions
  readonly #log: Logger
  readonly #retries: BackfillRetries
  /** Job ids submitted and not loaded yet. */
  #submitted: number[] = []
  /** Each client's loaded jobs, oldest first; the map's order is the order clients take turns in. */
  readonly #lanes = new Map<Hex, Job[]>()
  #loop: Promise<void> | undefined
  #wake: (() => void) | undefined
  #stopped = false

  constructor(options: BackfillRunnerOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'backfill' })
    this.#retries = options.retries ?? DEFAULT_RETRIES
  }

  /** Picks up the jobs a previous run left unfinished. */
  async resume(): Promise<void> {
    const open = await this.#o.db
      .selectFrom('backfill_jobs')
      .select('id')
      .where('status', 'in', ['pending', 'running'])
      .orderBy('id')
      .execute()
    for (const job of open) this.submit(job.id)
  }

  submit(jobId: number): void {
    if (this.#stopped) return
    this.#submitted.push(jobId)
    this.#wake?.()
    this.#ensureLoop()
  }

  #ensureLoop(): void {
    if (this.#loop) return
    this.#loop = (async () => {
      try {
        await this.#drive()
      } finally {
        this.#loop = undefined
        // A job submitted as the loop was ending would otherwise wait for the next submit.
        if (this.#submitted.length > 0 && !this.#stopped) this.#ensureLoop()
      }
    })()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    await this.#loop
  }

  /** Resolves when every submitted job has ended (tests). */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop
  }

  async #drive(): Promise<void> {
    while (!this.#stopped) {
      await this.#admit()
      const job = this.#nextTurn()
      if (job) {
        await this.#turn(job)
        continue
      }
      if (this.#lanes.size === 0 && this.#submitted.length === 0) return
      const soonest = Math.min(...[...this.#lanes.values()].flat().map((j) => j.notBefore))
      await this.#sleep(Math.max(0, (Number.isFinite(soonest) ? soonest : Date.now() + 1_000) - Date.now()))
    }
    for (const job of [...this.#lanes.values()].flat()) job.task.interrupt('stopped')
    this.#lanes.clear()
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = () => {
        this.#wake = undefined
        done()
      }
    })
  }

  /** The oldest ready job of the first client in turn order; that client goes to the back. */
  #nextTurn(): Job | undefined {
    const now = Date.now()
    for (const [clientId, jobs] of this.#lanes) {
      const job = jobs.find((j) => j.notBefore <= now)
      if (!job) continue
      if (this.#o.overBudget?.(clientId, job.plan)) {
        for (const waiting of jobs) waiting.notBefore = Math.max(waiting.notBefore, now + BUDGET_WAIT_MS)
        continue
      }
      this.#lanes.delete(clientId)
      this.#lanes.set(clientId, jobs)
      return job
    }
    return undefined
  }

  #drop(job: Job): void {
    const jobs = this.#lanes.get(job.clientId)?.filter((j) => j !== job) ?? []
    if (jobs.length === 0) this.#lanes.delete(job.clientId)
    else this.#lanes.set(job.clientId, jobs)
  }

  /** Loads the submitted jobs; one that cannot be loaded now is tried again at the next turn. */
  async #admit(): Promise<void> {
    const ids = this.#submitted
    this.#submitted = []
    for (const [i, id] of ids.entries()) {
      try {
        const job = await this.#load(id)
        if (!job) continue
        this.#lanes.set(job.clientId, [...(this.#lanes.get(job.clientId) ?? []), job])
      } catch (error) {
        this.#log.warn({ err: error, job: id }, 'could not load a back-fill job; trying again')
        this.#submitted.push(...ids.slice(i))
        await this.#sleep(this.#retries.firstDelayMs)
        return
      }
    }
  }

  async #load(jobId: number): Promise<Job | undefined> {
    const { db } = this.#o
    if ([...this.#lanes.values()].some((jobs) => jobs.some((j) => j.id === jobId))) return undefined
    const row = await db
      .selectFrom('backfill_jobs as j')
      .innerJoin('client_contracts as i', 'i.id', 'j.client_contract_id')
      .innerJoin('clients as c', 'c.id', 'i.client_id')
      .select(['j.id', 'j.next_block', 'j.client_contract_id', 'i.client_id', 'i.address', 'c.plan'])
      .where('j.id', '=', jobId)
      .where('j.status', 'in', ['pending', 'running'])
      .executeTakeFirst()
    if (!row || row.client_contract_id === null) return undefined // withdrawn meanwhile
    const filters = await db
      .selectFrom('client_tx_filters')
      .select(['id', 'code', 'args'])
      .where('client_contract_id', '=', row.client_contract_id)
      .orderBy('id')
      .execute()
    const interest: StoredInterest = {
      clientContractId: row.client_contract_id,
      clientId: bytesToHex(row.client_id),
      address: bytesToHex(row.address),
      filters: filters.map((f) => ({ id: f.id, code: f.code, args: f.args })),
    }
    const index = new FilterIndex()
    index.setInterest(interest)
    await db
      .updateTable('backfill_jobs')
      .set({ status: 'running', updated_at: new Date() })
      .where('id', '=', jobId)
      .execute()
    const head = this.#head(row.next_block)
    return {
      id: row.id,
      clientId: interest.clientId,
      plan: row.plan,
      interest,
      index,
      everyBlock: filters.some((f) => ['all', 'calls', 'value'].includes(f.code)),
      next: row.next_block,
      startedAt: row.next_block,
      task: this.#o.tasks.start('backfill', Math.max(0, head - row.next_block + 1), {
        job: row.id,
        interest: interest.address,
        client: interest.clientId,
        from: row.next_block,
      }),
      failures: 0,
      notBefore: 0,
    }
  }

  #head(fallback: number): number {
    return this.#o.follower.snapshot().head?.number ?? fallback - 1
  }

  /** One turn of a job: a bounded run of blocks, or the hand-over to live matching once caught up. */
  async #turn(job: Job): Promise<void> {
    const counted = countCalls(this.#o.node)
    try {
      const head = this.#head(job.next)
      if (job.next <= head) {
        const to = Math.min(head, job.next + (job.everyBlock ? TURN_BLOCKS : TURN_LOG_BLOCKS) - 1)
        await this.#scan(job, counted.node, to)
      } else if (await this.#handOver(job)) {
        this.#drop(job)
        job.task.finish()
      } else {
        job.notBefore = Date.now() + SEAM_WAIT_MS
      }
      job.failures = 0
    } catch (error) {
      if (error instanceof WithdrawnError) {
        this.#drop(job)
        job.task.finish()
      } else if (error instanceof RewoundError) {
        // The turn ends; the next one scans again from where the reorg put the job.
        job.next = error.position
        job.failures = 0
      } else if (error instanceof OffStoredChainError) {
        // The node is on a branch the follower has not stored yet: read it again once it has.
        job.notBefore = Date.now() + CHAIN_MOVED_WAIT_MS
      } else {
        await this.#failed(job, error)
      }
    } finally {
      if (counted.calls() > 0) this.#o.chargeCalls?.(job.clientId, counted.calls())
    }
  }

  async #handOver(job: Job): Promise<boolean> {
    const position = await backfillPosition(this.#o.db, job.id)
    if (position === undefined) throw new WithdrawnError()
    // A reorg since the last turn moved the job back: scan again from there before handing over.
    if (position !== job.next) {
      job.next = position
      return false
    }
    if (this.#o.delivery.installAtSeam(job.interest, job.next) !== 'installed') return false
    await this.#o.db
      .updateTable('backfill_jobs')
      .set({ status: 'done', error: null, updated_at: new Date() })
      .where('id', '=', job.id)
      .execute()
    return true
  }

  async #failed(job: Job, error: unknown): Promise<void> {
    job.failures += 1
    const message = error instanceof Error ? error.message : String(error)
    if (job.failures < this.#retries.attempts) {
      const delay = this.#retries.firstDelayMs * 2 ** (job.failures - 1)
      this.#log.warn(
        { err: error, job: job.id, failures: job.failures },
        `back-fill failed; retrying in ${delay} ms`,
      )
      job.notBefore = Date.now() + delay
      return
    }
    this.#drop(job)
    job.task.fail(error)
    await this.#o.db
      .updateTable('backfill_jobs')
      .set({ status: 'failed', error: message.slice(0, 500), updated_at: new Date() })
      .where('id', '=', job.id)
      .execute()
      .catch((cause: unknown) =>
        this.#log.warn({ err: cause, job: job.id }, 'could not mark a back-fill failed'),
      )
  }

  /** Scans `job.next..to` and queues the matches, checkpointing after each batch. */
  async #scan(job: Job, node: NodeClient, to: number): Promise<void> {
    const mode: ReceiptsMode = {
      perBlock: true,
      unknownTransactionTypes: this.#o.follower.snapshot().unknownTransactionTypes,
    }
    const commit = async (blocks: FetchedBlock[], upTo: number) => {
      const matches = job.index.match(blocks)
      const advance = await queueHistory(this.#o.follower, this.#o.queue, blocks, async (queue) => {
        const advance = await advanceBackfill(queue.trx, job.id, job.next, upTo + 1)
        if (advance === 'moved')
          await queue.enqueue(await this.#o.delivery.historicalItems(queue.trx, matches, blocks))
        return advance
      })
      if (advance === 'withdrawn') throw new WithdrawnError('the interest was withdrawn during its back-fill')
      if (advance !== 'moved') throw new RewoundError(advance.rewoundTo)
      job.next = upTo + 1
      job.task.progress(job.next - job.startedAt, { next: job.next })
    }
    if (job.everyBlock) {
      // Transactions to an address are in no node index: every block must be read.
      for (let start = job.next; start <= to; start += FETCH_BATCH) {
        const end = Math.min(to, start + FETCH_BATCH - 1)
        const numbers = Array.from({ length: end - start + 1 }, (_, i) => start + i)
        await commit(await fetchBlocks(node, numbers, mode), end)
      }
      return
    }
    // Logs only: eth_getLogs finds the blocks that matter; only those are read in full.
    await scanLogs({
      node,
      fromBlock: job.next,
      toBlock: to,
      addresses: [job.interest.address],
      initialChunkSize: LOG_CHUNK_BLOCKS,
      onChunk: async (logs, range) => {
        const numbers = [...new Set(logs.map((log) => Number(log.blockNumber)))].sort((a, b) => a - b)
        const blocks: FetchedBlock[] = []
        for (let i = 0; i < numbers.length; i += FETCH_BATCH) {
          blocks.push(...(await fetchBlocks(node, numbers.slice(i, i + FETCH_BATCH), mode)))
        }
        await commit(blocks, range.to)
      },
    })
  }
}
