import type { Kysely, Transaction } from 'kysely'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { Follower } from '../chain/follower/Follower.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../chain/NodeClient.js'
import { NodeUnavailableError } from '../chain/rpc/errors.js'
import type { RpcReceipt } from '../chain/types.js'
import type { DeliveryQueue, QueueItem, QueueWriter } from '../delivery/DeliveryQueue.js'
import type { DB } from '../storage/schema.js'
import type { DecodedSubmission } from './decodeSubmission.js'
import { mapNodeRefusal } from './mapNodeRefusal.js'
import { outcomeOf, type StatusReason, statusItem } from './statusItem.js'
import {
  loadWatched,
  markDropped,
  markFinal,
  markIncluded,
  markReorged,
  markReplaced,
  rawOf,
  recordPending,
  type Transition,
} from './submissionStore.js'

/** Receipts asked for per reconciliation pass; the rest wait for the next pass, oldest checked first. */
const CHECK_BATCH = 100
/** Records made final per pass. */
const FINAL_BATCH = 1000

type Watched = {
  from: Hex
  nonce: number
  status: 'pending' | 'dropped'
  expiresAt: number
  checkedAt: number
  sentAt: number
}

export type SubmissionTrackerOptions = {
  db: Kysely<DB>
  node: NodeClient
  /** Its writes outside the follower's transaction wait for the follower's turn. */
  follower: Pick<Follower, 'exclusive' | 'snapshot'>
  queue: DeliveryQueue
  logger: Logger
  metrics: Registry
  ttlMs: number
  /** 0: never send a pending transaction again. */
  rebroadcastMs: number
  checkMs: number
}

const keyOf = (from: string, nonce: number) => `${from.toLowerCase()}:${nonce}`

/**
 * Follows submitted transactions to inclusion, finality, replacement or expiry. The chain tells
 * most of it: every stored block's transactions are looked up in an in-memory index of the
 * watched ones, by hash (inclusion) and by sender and nonce (replacement), so a block costs
 * O(its transactions) whatever the number of submissions. What the blocks cannot tell is found
 * by a periodic pass: a transaction mined in a block the follower stored before the submission
 * was recorded (receipt lookup), finality, expiry and re-sending.
 *
 * The index is rebuilt from the database at start. Every write happens either inside the
 * follower's transaction (blocks) or in `follower.exclusive` (everything else), so the index and
 * the stored chain are never read half-changed. Entries leave the index only once the
 * transaction that settled them has committed: a stale extra entry costs one update that matches
 * nothing, a missing one would lose a transaction.
 */
export class SubmissionTracker implements ChainListener {
  readonly #o: SubmissionTrackerOptions
  readonly #log: Logger
  readonly #watched = new Map<Hex, Watched>()
  readonly #bySenderNonce = new Map<string, Set<Hex>>()
  /** Settled in the follower's current transaction: unwatched once it commits. */
  #settling: Hex[] = []
  #timer: NodeJS.Timeout | undefined
  #pass: Promise<void> | undefined
  #again = false
  #stopped = true
  readonly #m: { changes: Counter<'status'>; watched: Gauge; resent: Counter<'outcome'> }

  constructor(options: SubmissionTrackerOptions) {
    this.#o = options
    this.#log = options.logger.child({ component: 'submissions' })
    const registers = [options.metrics]
    this.#m = {
      changes: new Counter({
        name: 'wallet_backend_submission_status_changes_total',
        help: 'Status changes of submitted transactions, by new status',
        labelNames: ['status'],
        registers,
      }),
      watched: new Gauge({
        name: 'wallet_backend_submissions_watched',
        help: 'Submitted transactions watched for inclusion (pending, and dropped within their grace period)',
        registers,
      }),
      resent: new Counter({
        name: 'wallet_backend_submission_rebroadcasts_total',
        help: 'Pending transactions sent to the node again, by what the node answered',
        labelNames: ['outcome'],
        registers,
      }),
    }
  }

  /** Rebuilds the index from the database; call before the follower starts. */
  async load(): Promise<void> {
    const now = Date.now()
    for (const row of await loadWatched(this.#o.db, new Date(now - this.#o.ttlMs))) {
      if (row.status !== 'pending' && row.status !== 'dropped') continue
      // After a restart the node may have lost its pool: pending ones are re-sent at the first pass.
      this.#watch(row.hash, { ...row, status: row.status, expiresAt: row.expiresAt.getTime() }, 0)
    }
    this.#log.info({ watched: this.#watched.size }, 'submitted transactions loaded')
  }

  start(): void {
    this.#stopped = false
    this.#schedule(this.#o.checkMs)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#pass
  }

  /** Asks for a reconciliation pass now (a submission was just recorded). */
  kick(): void {
    if (this.#stopped) return
    if (this.#pass) this.#again = true
    else this.#schedule(0)
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#pass = this.reconcile()
        .catch((error: unknown) => {
          // The node being down is already reported (lifecycle, /health); it is no news every pass.
          const level = error instanceof NodeUnavailableError ? 'debug' : 'warn'
          this.#log[level]({ err: error }, 'submission reconciliation failed')
        })
        .finally(() => {
          this.#pass = undefined
          if (this.#stopped) return
          const again = this.#again
          this.#again = false
          this.#schedule(again ? 0 : this.#o.checkMs)
        })
    }, delayMs)
    this.#timer.unref()
  }

  /**
   * Records an accepted submission as pending and queues its item. Returns undefined when the
   * client already had the record (a repeat), which is then left as it is.
   */
  record(
    submission: DecodedSubmission,
    clientId: Hex,
    clientContractId: number | null,
  ): Promise<Transition | undefined> {
    return this.#o.follower.exclusive(async () => {
      const expiresAt = Date.now() + this.#o.ttlMs
      const change = await this.#o.queue.transaction(async (queue) => {
        const change = await recordPending(queue.trx, {
          clientId,
          hash: submission.hash,
          clientContractId,
          raw: submission.raw,
          from: submission.from,
          nonce: submission.nonce,
          expiresAt: new Date(expiresAt),
        })
        if (change) {
          await this.#enqueue(queue, [change], change.previous === 'dropped' ? 'resubmitted' : 'submitted')
        }
        return change
      })
      if (change) {
        this.#watch(
          submission.hash,
          { from: submission.from, nonce: submission.nonce, status: 'pending', expiresAt },
          Date.now(),
        )
        this.kick()
      }
      return change
    })
  }

  async blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<void> {
    this.#settling = []
    if (this.#watched.size === 0) return
    const items: QueueItem[] = []
    for (const { block, receipts } of blocks) {
      const ref = { number: Number(block.number), hash: block.hash }
      for (const [index, tx] of block.transactions.entries()) {
        const hash = tx.hash.toLowerCase() as Hex
        if (this.#watched.has(hash)) {
          const changes = await markIncluded(trx, hash, ref, outcomeOf(receipts[index]!, index))
          items.push(...this.#items(changes, 'mined'))
          this.#settling.push(hash)
        }
        const rivals = this.#bySenderNonce.get(keyOf(tx.from, Number(tx.nonce)))
        if (!rivals) continue
        const replaced = [...rivals].filter((rival) => rival !== hash)
        if (replaced.length === 0) continue
        const changes = await markReplaced(trx, replaced, { hash, block: ref })
        items.push(...this.#items(changes, 'nonce-used'))
        this.#settling.push(...replaced)
      }
    }
    await this.#o.queue.batch(trx).enqueue(items)
  }

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    this.#settling = []
    if (blocks.length === 0) return
    // A transaction reorged out is usually back in the node's pool: it gets a whole TTL again.
    const expiresAt = Date.now() + this.#o.ttlMs
    const changes = await markReorged(
      trx,
      blocks.map((block) => block.hash),
      new Date(expiresAt),
    )
    if (changes.length === 0) return
    // Watched at once, before the commit: should it roll back, the extra entries match nothing.
    for (const change of changes) {
      this.#watch(change.hash, { from: change.from, nonce: change.nonce, status: 'pending', expiresAt }, 0)
    }
    await this.#enqueue(this.#o.queue.batch(trx), changes, 'reorg')
    this.#log.info({ transactions: changes.length }, 'submitted transactions reorged out, pending again')
  }

  committed(): void {
    for (const hash of this.#settling) this.#unwatch(hash)
    this.#settling = []
  }

  /**
   * One reconciliation pass: included records in finalized blocks become final; pending ones are
   * looked up by receipt (in batches, oldest checked first), expired ones without a receipt are
   * dropped, and the rest are sent again when due.
   */
  async reconcile(): Promise<void> {
    const now = Date.now()
    await this.#finalize()
    for (const [hash, entry] of this.#watched) {
      if (entry.status === 'dropped' && entry.expiresAt + this.#o.ttlMs <= now) this.#unwatch(hash)
    }
    const due = [...this.#watched.entries()]
      .filter(([, entry]) => entry.status === 'pending')
      .sort(([, a], [, b]) => a.checkedAt - b.checkedAt)
      .slice(0, CHECK_BATCH)
      .map(([hash]) => hash)
    if (due.length === 0) return
    const answers = await this.#o.node.batch<RpcReceipt | null>(
      due.map((hash) => ({ method: 'eth_getTransactionReceipt', params: [hash] })),
    )
    const receipts = new Map<Hex, RpcReceipt>()
    const unmined: Hex[] = []
    for (const [i, hash] of due.entries()) {
      const entry = this.#watched.get(hash)
      if (entry) entry.checkedAt = now
      const answer = answers[i]
      if (answer?.ok && answer.value) receipts.set(hash, answer.value)
      else if (answer?.ok) unmined.push(hash)
    }
    await this.#settle(receipts, unmined, now)
    await this.#rebroadcast(unmined, now)
  }

  async #finalize(): Promise<void> {
    const finalized = this.#o.follower.snapshot().finalized
    if (!finalized) return
    await this.#exclusiveTransaction(async (queue) => {
      const changes = await markFinal(queue.trx, finalized.number, FINAL_BATCH)
      await this.#enqueue(queue, changes, 'finalized')
    })
  }

  /**
   * Applies receipt lookups between follow cycles. A receipt counts only if its block is stored
   * and canonical; one of a block the follower has not stored yet is left to the follower, which
   * will find the transaction in it (and a block the store and the node disagree on is a reorg
   * the follower is about to handle).
   */
  async #settle(receipts: Map<Hex, RpcReceipt>, unmined: Hex[], now: number): Promise<void> {
    const expired = unmined.filter((hash) => (this.#watched.get(hash)?.expiresAt ?? Infinity) <= now)
    if (receipts.size === 0 && expired.length === 0) return
    const included: Hex[] = []
    const dropped: Hex[] = []
    await this.#exclusiveTransaction(async (queue) => {
      const { trx } = queue
      const blockHashes = [...new Set([...receipts.values()].map((receipt) => receipt.blockHash))]
      const canonical =
        blockHashes.length === 0
          ? new Set<string>()
          : new Set(
              (
                await trx
                  .selectFrom('blocks')
                  .select('hash')
                  .where('canonical', '=', true)
                  .where(
                    'hash',
                    'in',
                    blockHashes.map((hash) => hexToBytes(hash)),
                  )
                  .execute()
              ).map((row) => bytesToHex(row.hash)),
            )
      for (const [hash, receipt] of receipts) {
        if (!canonical.has(receipt.blockHash.toLowerCase())) continue
        const index = Number(receipt.transactionIndex)
        const block = { number: Number(receipt.blockNumber), hash: receipt.blockHash.toLowerCase() as Hex }
        const changes = await markIncluded(trx, hash, block, outcomeOf(receipt, index))
        await this.#enqueue(queue, changes, 'mined')
        included.push(hash)
      }
      if (expired.length > 0) {
        const changes = await markDropped(trx, expired, new Date(now))
        await this.#enqueue(queue, changes, 'expired')
        dropped.push(...new Set(changes.map((change) => change.hash)))
      }
    })
    for (const hash of included) this.#unwatch(hash)
    const stillWatched = new Set(dropped)
    for (const hash of expired) {
      const entry = this.#watched.get(hash)
      // Expired but not dropped: the record is no longer pending (its client was deleted, say),
      // so there is nothing left to watch for.
      if (entry && stillWatched.has(hash)) entry.status = 'dropped'
      else this.#unwatch(hash)
    }
  }

  async #rebroadcast(unmined: Hex[], now: number): Promise<void> {
    if (this.#o.rebroadcastMs === 0) return
    const due = unmined.filter((hash) => {
      const entry = this.#watched.get(hash)
      return entry?.status === 'pending' && entry.sentAt + this.#o.rebroadcastMs <= now
    })
    if (due.length === 0) return
    const raws = await rawOf(this.#o.db, due)
    for (const hash of due) {
      const raw = raws.get(hash)
      const entry = this.#watched.get(hash)
      if (!raw || !entry) continue
      entry.sentAt = now
      try {
        await this.#o.node.request('eth_sendRawTransaction', [raw])
        this.#m.resent.inc({ outcome: 'accepted' })
      } catch (error) {
        // Known: the node still has it. Nonce too low: something took the nonce, and the blocks
        // or the next receipt lookup will say what. Either way there is nothing to do here.
        const answer = mapNodeRefusal(error)
        this.#m.resent.inc({ outcome: answer.kind === 'refused' ? answer.error.code : answer.kind })
        this.#log.debug({ hash, err: error }, 'rebroadcast refused')
      }
    }
  }

  async #exclusiveTransaction(work: (queue: QueueWriter) => Promise<void>): Promise<void> {
    await this.#o.follower.exclusive(() => this.#o.queue.transaction(work))
  }

  async #enqueue(queue: QueueWriter, changes: readonly Transition[], reason: StatusReason): Promise<void> {
    if (changes.length === 0) return
    await queue.enqueue(this.#items(changes, reason))
  }

  #items(changes: readonly Transition[], reason: StatusReason): QueueItem[] {
    for (const change of changes) this.#m.changes.inc({ status: change.status })
    return changes.map((change) => statusItem(change, reason))
  }

  #watch(hash: Hex, entry: Omit<Watched, 'checkedAt' | 'sentAt'>, sentAt: number): void {
    const key = keyOf(entry.from, entry.nonce)
    this.#watched.set(hash, { ...entry, checkedAt: 0, sentAt })
    const set = this.#bySenderNonce.get(key) ?? new Set<Hex>()
    set.add(hash)
    this.#bySenderNonce.set(key, set)
    this.#m.watched.set(this.#watched.size)
  }

  #unwatch(hash: Hex): void {
    const entry = this.#watched.get(hash)
    if (!entry) return
    this.#watched.delete(hash)
    const key = keyOf(entry.from, entry.nonce)
    const set = this.#bySenderNonce.get(key)
    set?.delete(hash)
    if (set?.size === 0) this.#bySenderNonce.delete(key)
    this.#m.watched.set(this.#watched.size)
  }
}
