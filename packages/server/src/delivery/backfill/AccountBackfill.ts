import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex } from 'viem'
import { scanLogs } from '../../chain/backfill/scanLogs.js'
import type { Follower } from '../../chain/follower/Follower.js'
import { type FetchedBlock, fetchBlocks } from '../../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../../chain/NodeClient.js'
import { AccountIndex, type StoredAccount } from '../../filters/AccountIndex.js'
import { ACCOUNT_TOPICS, type AccountActivityKind } from '../../filters/accountActivity.js'
import type { BackgroundTasks } from '../../lifecycle/BackgroundTasks.js'
import type { DB } from '../../storage/schema.js'
import { accountItems, tokensOf } from '../AccountActivityProducer.js'
import type { DeliveryListener } from '../DeliveryListener.js'
import type { DeliveryQueue } from '../DeliveryQueue.js'
import type { TokenMetadata } from '../TokenMetadata.js'
import { countCalls } from './countCalls.js'

const FETCH_BATCH = 20
/** Blocks per checkpoint of a logs-only back-fill; eth_getLogs chunks shrink below it on nodes that ask. */
const LOG_CHUNK_BLOCKS = 2_000
const RETRY_MS = 2_000

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
}

/**
 * Back-fills the history of account interests that asked for it, one job at a time, resumable from
 * `backfill_jobs.next_block`. With `native` followed every block is read (a transaction's sender is
 * in no node index); otherwise address-less eth_getLogs queries by topic — one per event and topic
 * position the account can stand in — find the blocks that matter, and only those are read. Either
 * way the blocks go through the same index and decoding as live matching, and the account is handed
 * to live matching at the exact block where history ends.
 */
export class AccountBackfill {
  readonly #o: AccountBackfillOptions
  readonly #log: Logger
  #queue: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(options: AccountBackfillOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'account-backfill' })
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

  /** Drops the unfinished back-fill of an account (it was replaced without one). */
  async cancel(accountId: number): Promise<void> {
    await this.#o.db
      .deleteFrom('backfill_jobs')
      .where('client_account_id', '=', accountId)
      .where('status', 'in', ['pending', 'running'])
      .execute()
  }

  submit(jobId: number): void {
    this.#queue = this.#queue.then(() => this.#run(jobId)).catch(() => {})
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#queue
  }

  async #run(jobId: number): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#runOnce(jobId)
        return
      } catch (error) {
        this.#log.warn({ err: error, job: jobId }, 'account back-fill failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
  }

  async #runOnce(jobId: number): Promise<void> {
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
        if (this.#stopped) return
        const to = head()
        if (next <= to) {
          next = await this.#scan(jobId, index, account, next, to)
          task.progress(next - startedAt, { next })
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
      task.fail(error)
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
    const mode = { perBlock: true }
    let next = from
    const commit = async (blocks: FetchedBlock[], upTo: number) => {
      const work = new Map<Hex, number>()
      const matches = index.match(blocks, work)
      await this.#o.tokens?.prepare(tokensOf(matches))
      const items = accountItems(matches, blocks, { backfill: true })
      const updated = await this.#o.queue.transaction(async (queue) => {
        const row = await queue.trx
          .updateTable('backfill_jobs')
          .set({ next_block: upTo + 1, updated_at: new Date() })
          .where('id', '=', jobId)
          .returning('id')
          .executeTakeFirst()
        if (row && items.length > 0) {
          await this.#o.tokens?.attach(queue.trx, items)
          await queue.enqueue(items)
        }
        return row !== undefined
      })
      if (!updated) throw new Error('the account was withdrawn during its back-fill')
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
