import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex } from 'viem'
import { scanLogs } from '../../chain/backfill/scanLogs.js'
import type { Follower } from '../../chain/follower/Follower.js'
import { type FetchedBlock, fetchBlocks, type ReceiptsMode } from '../../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../../chain/NodeClient.js'
import { FilterIndex, type StoredInterest } from '../../filters/FilterIndex.js'
import type { BackgroundTasks } from '../../lifecycle/BackgroundTasks.js'
import type { DB } from '../../storage/schema.js'
import type { DeliveryListener } from '../DeliveryListener.js'

const FETCH_BATCH = 20
const LOG_CHUNK_BLOCKS = 2_000
const RETRY_MS = 2_000

export type BackfillRunnerOptions = {
  db: Kysely<DB>
  node: NodeClient
  follower: Follower
  delivery: DeliveryListener
  tasks: BackgroundTasks
  logger: Logger
}

/**
 * Runs the back-fills of interests that asked for history (`startBlock`): one job at a time, in
 * the background, resumable from `backfill_jobs.next_block` after a restart. History is scanned up
 * to where live matching stands and the interest is then handed to live matching at that exact
 * block, so its items arrive in chain order with no gap and no duplicate at the seam.
 */
export class BackfillRunner {
  readonly #o: BackfillRunnerOptions
  readonly #log: Logger
  #queue: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(options: BackfillRunnerOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'backfill' })
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
    this.#queue = this.#queue.then(() => this.#run(jobId)).catch(() => {})
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#queue
  }

  /** Resolves when every submitted job has ended (tests). */
  idle(): Promise<void> {
    return this.#queue
  }

  async #run(jobId: number): Promise<void> {
    for (;;) {
      if (this.#stopped) return
      try {
        await this.#runOnce(jobId)
        return
      } catch (error) {
        this.#log.warn({ err: error, job: jobId }, 'back-fill failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
  }

  async #runOnce(jobId: number): Promise<void> {
    const { db } = this.#o
    const job = await db
      .selectFrom('backfill_jobs as j')
      .innerJoin('client_contracts as i', 'i.id', 'j.client_contract_id')
      .select(['j.id', 'j.next_block', 'j.client_contract_id', 'i.client_id', 'i.address'])
      .where('j.id', '=', jobId)
      .where('j.status', 'in', ['pending', 'running'])
      .executeTakeFirst()
    if (!job || job.client_contract_id === null) return // withdrawn meanwhile
    const filters = await db
      .selectFrom('client_tx_filters')
      .select(['id', 'code', 'args'])
      .where('client_contract_id', '=', job.client_contract_id)
      .orderBy('id')
      .execute()
    const interest: StoredInterest = {
      clientContractId: job.client_contract_id,
      clientId: bytesToHex(job.client_id),
      address: bytesToHex(job.address),
      filters: filters.map((f) => ({ id: f.id, code: f.code, args: f.args })),
    }
    const index = new FilterIndex()
    index.setInterest(interest)
    const needsEveryBlock = filters.some((f) => ['all', 'calls', 'value'].includes(f.code))
    let next = job.next_block
    const startedAt = next
    const head = () => this.#o.follower.snapshot().head?.number ?? next - 1
    const task = this.#o.tasks.start('backfill', Math.max(0, head() - next + 1), {
      interest: interest.address,
      from: next,
    })
    await db
      .updateTable('backfill_jobs')
      .set({ status: 'running', updated_at: new Date() })
      .where('id', '=', jobId)
      .execute()
    const mode: ReceiptsMode = { perBlock: true }
    try {
      for (;;) {
        if (this.#stopped) return
        const to = head()
        if (next <= to) {
          next = await this.#scan(jobId, index, interest.address, needsEveryBlock, next, to, mode, (done) =>
            task.progress(done - startedAt, { next: done }),
          )
          continue
        }
        if (this.#o.delivery.installAtSeam(interest, next) === 'installed') break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await db
        .updateTable('backfill_jobs')
        .set({ status: 'done', updated_at: new Date() })
        .where('id', '=', jobId)
        .execute()
      task.finish()
    } catch (error) {
      task.fail(error)
      throw error
    }
  }

  /** Scans `from..to` and queues the matches, checkpointing after each batch; returns the next block. */
  async #scan(
    jobId: number,
    index: FilterIndex,
    address: Hex,
    everyBlock: boolean,
    from: number,
    to: number,
    mode: ReceiptsMode,
    progress: (next: number) => void,
  ): Promise<number> {
    const { node } = this.#o
    let next = from
    const commit = async (blocks: FetchedBlock[], upTo: number) => {
      const matches = index.match(blocks)
      const updated = await this.#o.db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('backfill_jobs')
          .set({ next_block: upTo + 1, updated_at: new Date() })
          .where('id', '=', jobId)
          .returning('id')
          .executeTakeFirst()
        if (row) await this.#o.delivery.enqueueHistorical(trx, matches, blocks)
        return row !== undefined
      })
      if (!updated) throw new Error('the interest was withdrawn during its back-fill')
      if (matches.length > 0) this.#o.delivery.committed()
      next = upTo + 1
      progress(next)
    }
    if (everyBlock) {
      // Transactions to an address are in no node index: every block must be read.
      for (let start = from; start <= to; start += FETCH_BATCH) {
        const end = Math.min(to, start + FETCH_BATCH - 1)
        const numbers = Array.from({ length: end - start + 1 }, (_, i) => start + i)
        await commit(await fetchBlocks(node, numbers, mode), end)
      }
      return next
    }
    // Logs only: eth_getLogs finds the blocks that matter; only those are read in full.
    await scanLogs({
      node,
      fromBlock: from,
      toBlock: to,
      addresses: [address],
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
    return next
  }
}
