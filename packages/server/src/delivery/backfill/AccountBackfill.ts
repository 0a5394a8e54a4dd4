import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex } from 'viem'
import { scanLogs } from '../../chain/backfill/scanLogs.js'
import type { Follower } from '../../chain/follower/Follower.js'
import { type FetchedBlock, fetchBlocks, type ReceiptsMode } from '../../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../../chain/NodeClient.js'
import { AccountIndex, type StoredAccount } from '../../filters/AccountIndex.js'
import { ACCOUNT_TOPICS, type AccountActivityKind } from '../../filters/accountActivity.js'
import type { BackgroundTasks } from '../../lifecycle/BackgroundTasks.js'
import type { DB } from '../../storage/schema.js'
import { accountItems, tokensOf } from '../AccountActivityProducer.js'
import type { DeliveryListener } from '../DeliveryListener.js'
import type { DeliveryQueue } from '../DeliveryQueue.js'
import type { TokenMetadata } from '../TokenMetadata.js'
import { type BackfillRetries, DEFAULT_RETRIES } from './BackfillRunner.js'
import { advanceBackfill, backfillPosition, RewoundError, WithdrawnError } from './backfillPosition.js'
import { countCalls } from './countCalls.js'
import { OffStoredChainError, queueHistory } from './queueHistory.js'

const FETCH_BATCH = 20
/** Blocks per checkpoint of a logs-only back-fill; eth_getLogs chunks shrink below it on nodes that ask. */
const LOG_CHUNK_BLOCKS = 2_000

export type AccountBackfillOptions = {
  db: Kysely<DB>
  node: NodeClient
  follower: Follower
  delivery: DeliveryListener
  queue: DeliveryQueue
  accounts: AccountIndex
  tasks: BackgroundTasks
  logger: Logger
  /** Matching work done for a client, for its usage and cost limit. */
  chargeWork?: (work: ReadonlyMap<Hex, number>) => void
  /** Node calls made for a client's back-fill, charged like those of contract back-fills. */
  chargeCalls?: (clientId: Hex, calls: number) => void
  tokens?: TokenMetadata
  retries?: BackfillRetries
}

/**
 * Back-fills the history of account interests that asked for it, one job at a time, resumable from
 * `backfill_jobs.next_block`. With `native` followed every block is read (a transaction's sender is
 * in no node index); otherwise address-less eth_getLogs queries by topic — one per event and topic
 * position the account can stand in — find the blocks that matter, and only those are read. Either
 * way the blocks go through the same index and decoding as live matching, and the account is handed
 * to live matching at the exact block where history ends. A job that keeps failing without progress
 * is retried with back-off a bounded number of times, then marked `failed` with its error.
 */
export class AccountBackfill {
  readonly #o: AccountBackfillOptions
  readonly #log: Logger
  readonly #retries: BackfillRetries
  #queue: Promise<void> = Promise.resolve()
  #stopped = false
  readonly #stop = new AbortController()

  constructor(options: AccountBackfillOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'account-backfill' })
    this.#retries = options.retries ?? DEFAULT_RETRIES
  }

  async resume(): Promise<void> {
    const open = await this.#o.db
      .selectFrom('backfill_jobs')
      .select('id')
      .where('client_account_id', 'is not', null)
      .where('status', 'in', ['pending', 'running'])
      .orderBy('id')
      .execute()
    for (const job of open) this.submit(job.id)
  }

  /** Records a back-fill of `account` from `fromBlock` and runs it; the account is not live until it ends. */
  async start(account: StoredAccount, fromBlock: number): Promise<void> {
    this.#o.accounts.remove(account.accountId)
    const head = this.#o.follower.snapshot().head?.number ?? fromBlock
    await this.cancel(account.accountId)
    const job = await this.#o.db
      .insertInto('backfill_jobs')
      .values({
        client_contract_id: null,
        client_account_id: account.accountId,
        from_block: fromBlock,
        to_block: head,
        next_block: fromBlock,
        status: 'pending',
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    this.submit(job.id)
  }

  /** Drops the unfinished or failed back-fill of an account (it was put again). */
  async cancel(accountId: number): Promise<void> {
    await this.#o.db
      .deleteFrom('backfill_jobs')
      .where('client_account_id', '=', accountId)
      .where('status', 'in', ['pending', 'running', 'failed'])
      .execute()
  }

  submit(jobId: number): void {
    this.#queue = this.#queue.then(() => this.#run(jobId)).catch(() => {})
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#stop.abort()
    await this.#queue
  }

  /** Resolves when every submitted job has ended (tests). */
  async idle(): Promise<void> {
    await this.#queue
  }

  async #run(jobId: number): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      const attempt = { failures, progressed: false }
      try {
        await this.#runOnce(jobId, attempt)
        return
      } catch (error) {
        if (error instanceof WithdrawnError || this.#stopped) return
        // A block off the stored chain is the node ahead of the follower, not a failure.
        if (error instanceof OffStoredChainError) {
          this.#log.debug({ job: jobId }, error.message)
          await sleep(this.#retries.firstDelayMs, this.#stop.signal)
          continue
        }
        failures = failuresAfter(attempt)
        if (failures >= this.#retries.attempts) {
          await this.#markFailed(jobId, error)
          return
        }
        const delay = this.#retries.firstDelayMs * 2 ** (failures - 1)
        this.#log.warn(
          { err: error, job: jobId, failures },
          `account back-fill failed; retrying in ${delay} ms`,
        )
        await sleep(delay, this.#stop.signal)
      }
    }
  }

  async #markFailed(jobId: number, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error)
    await this.#o.db
      .updateTable('backfill_jobs')
      .set({ status: 'failed', error: message.slice(0, 500), updated_at: new Date() })
      .where('id', '=', jobId)
      .where('status', 'in', ['pending', 'running'])
      .execute()
      .catch((cause: unknown) =>
        this.#log.warn({ err: cause, job: jobId }, 'could not mark a back-fill failed'),
      )
  }

  async #runOnce(jobId: number, attempt: Attempt): Promise<void> {
    const { db } = this.#o
    const job = await db
      .selectFrom('backfill_jobs as j')
      .innerJoin('client_accounts as a', 'a.id', 'j.client_account_id')
      .select(['j.next_block', 'a.id', 'a.client_id', 'a.address', 'a.activity'])
      .where('j.id', '=', jobId)
      .where('j.status', 'in', ['pending', 'running'])
      .executeTakeFirst()
    if (!job) return // withdrawn meanwhile
    const account: StoredAccount = {
      accountId: job.id,
      clientId: bytesToHex(job.client_id),
      address: bytesToHex(job.address),
      activity: job.activity as AccountActivityKind[],
    }
    const index = new AccountIndex()
    index.set(account)
    let next = job.next_block
    const startedAt = next
    const head = () => this.#o.follower.snapshot().head?.number ?? next - 1
    const task = this.#o.tasks.start('account-backfill', Math.max(0, head() - next + 1), {
      job: jobId,
      account: account.address,
      from: next,
    })
    await db
      .updateTable('backfill_jobs')
      .set({ status: 'running', updated_at: new Date() })
      .where('id', '=', jobId)
      .execute()
    try {
      for (;;) {
        if (this.#stopped) {
          task.interrupt('stopped')
          return
        }
        const to = head()
        if (next <= to) {
          try {
            const reached = await this.#scan(jobId, index, account, next, to)
            if (reached > next) attempt.progressed = true
            next = reached
          } catch (error) {
            if (!(error instanceof RewoundError)) throw error
            next = error.position
          }
          task.progress(next - startedAt, { next })
          continue
        }
        // A reorg since the last scan moved the job back: scan again from there before handing over.
        const position = await backfillPosition(db, jobId)
        if (position === undefined) throw new WithdrawnError('the account was withdrawn during its back-fill')
        if (position !== next) {
          next = position
          continue
        }
        if (this.#o.delivery.runAtSeam(next, () => this.#o.accounts.set(account)) === 'installed') break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await db
        .updateTable('backfill_jobs')
        .set({ status: 'done', updated_at: new Date() })
        .where('id', '=', jobId)
        .execute()
      task.finish()
    } catch (error) {
      // The task fails with the last attempt; before it, a retry goes on in a new task.
      if (error instanceof WithdrawnError) task.finish()
      else if (!(error instanceof OffStoredChainError) && failuresAfter(attempt) >= this.#retries.attempts)
        task.fail(error)
      else task.interrupt(error instanceof Error ? error.message : String(error))
      throw error
    }
  }

  /** Scans `from..to`, queueing the matches and checkpointing after each batch; returns the next block. */
  async #scan(
    jobId: number,
    index: AccountIndex,
    account: StoredAccount,
    from: number,
    to: number,
  ): Promise<number> {
    const counted = countCalls(this.#o.node)
    const { node } = counted
    let charged = 0
    const mode: ReceiptsMode = {
      perBlock: true,
      unknownTransactionTypes: this.#o.follower.snapshot().unknownTransactionTypes,
    }
    let next = from
    const commit = async (blocks: FetchedBlock[], upTo: number) => {
      const work = new Map<Hex, number>()
      const matches = index.match(blocks, work)
      await this.#o.tokens?.prepare(tokensOf(matches))
      const items = accountItems(matches, blocks, { backfill: true })
      const advance = await queueHistory(this.#o.follower, this.#o.queue, blocks, async (queue) => {
        const advance = await advanceBackfill(queue.trx, jobId, next, upTo + 1)
        if (advance === 'moved' && items.length > 0) {
          await this.#o.tokens?.attach(queue.trx, items)
          await queue.enqueue(items)
        }
        return advance
      })
      if (advance === 'withdrawn') throw new WithdrawnError('the account was withdrawn during its back-fill')
      if (advance !== 'moved') throw new RewoundError(advance.rewoundTo)
      if (work.size > 0) this.#o.chargeWork?.(work)
      // Each commit pays for the calls since the last one, so a long back-fill pays as it goes.
      if (counted.calls() > charged) this.#o.chargeCalls?.(account.clientId, counted.calls() - charged)
      charged = counted.calls()
      next = upTo + 1
    }
    if (account.activity.includes('native')) {
      for (let start = from; start <= to; start += FETCH_BATCH) {
        if (this.#stopped) return next
        const end = Math.min(to, start + FETCH_BATCH - 1)
        const numbers = Array.from({ length: end - start + 1 }, (_, i) => start + i)
        await commit(await fetchBlocks(node, numbers, mode), end)
      }
      return next
    }
    const queries = topicQueries(account)
    for (let start = from; start <= to; start += LOG_CHUNK_BLOCKS) {
      if (this.#stopped) return next
      const end = Math.min(to, start + LOG_CHUNK_BLOCKS - 1)
      const wanted = new Set<number>()
      for (const topics of queries) {
        await scanLogs({
          node,
          fromBlock: start,
          toBlock: end,
          topics,
          initialChunkSize: LOG_CHUNK_BLOCKS,
          onChunk: async (logs) => {
            for (const log of logs) wanted.add(Number(log.blockNumber))
          },
        })
      }
      const numbers = [...wanted].sort((a, b) => a - b)
      const blocks: FetchedBlock[] = []
      for (let i = 0; i < numbers.length; i += FETCH_BATCH)
        blocks.push(...(await fetchBlocks(node, numbers.slice(i, i + FETCH_BATCH), mode)))
      await commit(blocks, end)
    }
    return next
  }
}

/** One run of a job: the failures in a row before it, and whether it got further. */
type Attempt = { failures: number; progressed: boolean }

/** Failures in a row after a failed attempt: one that got further starts the count afresh. */
const failuresAfter = (attempt: Attempt) => (attempt.progressed ? 1 : attempt.failures + 1)

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

/** The eth_getLogs topic filters that find every followed event naming the account, one per topic position. */
export function topicQueries(account: StoredAccount): (Hex | Hex[] | null)[][] {
  const padded = `0x${account.address.slice(2).toLowerCase().padStart(64, '0')}` as Hex
  const byPosition = new Map<number, Hex[]>()
  for (const [topic0, event] of ACCOUNT_TOPICS) {
    if (!account.activity.includes(event.kind)) continue
    for (const position of event.positions)
      byPosition.set(position, [...(byPosition.get(position) ?? []), topic0 as Hex])
  }
  return [...byPosition].map(([position, topic0s]) => [
    topic0s,
    ...Array.from({ length: position - 1 }, () => null),
    padded,
  ])
}
