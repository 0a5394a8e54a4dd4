import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Hex } from 'viem'
import type { DB } from '../../storage/schema.js'
import type { NodeClient } from '../NodeClient.js'
import type { RpcBlockHeader } from '../types.js'
import type { UnknownTransactionTypes } from '../verify/UnknownTransactionTypes.js'
import {
  demoteAbove,
  getCanonicalHashes,
  getCanonicalHead,
  getCanonicalTail,
  insertCanonicalBlocks,
  pruneBlocks,
} from './blockStore.js'
import type { BlockRef, ChainListener } from './ChainListener.js'
import {
  type FetchedBlock,
  fetchBlocks,
  InconsistentNodeDataError,
  type ReceiptsMode,
} from './fetchBlocks.js'
import { PollSchedule } from './PollSchedule.js'

export type FollowerOptions = {
  db: Kysely<DB>
  node: NodeClient
  listener: ChainListener<unknown>
  logger: Logger
  metrics: Registry
  /**
   * The slowest head poll when no subscription wakes the follower. Between blocks the follower
   * sleeps until the next one is due, then polls in short steps (see PollSchedule).
   */
  pollIntervalMs: number
  /** `fixed` polls every `pollIntervalMs` instead of following the chain's rhythm. */
  headPolling?: 'adaptive' | 'fixed'
  /** Where to start on an empty database: a block number, or the node's head. */
  startBlock: number | 'latest'
  /** Finality when the node does not answer the `safe`/`finalized` tags: head minus this depth. */
  confirmations: number
  /** Blocks fetched in one JSON-RPC batch while catching up. */
  batchSize: number
  /** Canonical blocks kept below the finalized block; older ones are pruned. */
  retainFinalizedBlocks: number
  /** Blocks with transaction types this backend cannot check: refused (default), or trusted and marked. */
  unknownTransactionTypes?: UnknownTransactionTypes
  /** Subscribes to new heads where the node can push them; returns the unsubscribe function. */
  subscribeHeads?: (onHead: () => void) => Promise<() => Promise<void>>
}

export type FollowerStatus =
  | { kind: 'catching-up'; reason: string }
  | { kind: 'live'; reason: string }
  | { kind: 'node-unavailable'; reason: string }
  | { kind: 'storage-unavailable'; reason: string }

export type FollowerSnapshot = {
  head: BlockRef | undefined
  safe: BlockRef | undefined
  finalized: BlockRef | undefined
  nodeHead: number | undefined
  /** Set when the node reorganised below the finalized block; cleared by an operator restart. */
  alarm: string | undefined
  lastError: string | undefined
  receiptsSource: 'eth_getBlockReceipts' | 'eth_getTransactionReceipt'
  unknownTransactionTypes: UnknownTransactionTypes
  /** Blocks stored on the node's word since start (`trust-node`), and the last of them. */
  unverifiedBlocks: number
  lastUnverified: { number: number; hash: Hex; types: string[] } | undefined
}

const MAX_BACKOFF_MS = 30_000
const ANCESTOR_WINDOW = 32
const CATCH_UP_GAP = 3

const hex = (n: number) => `0x${n.toString(16)}`

/**
 * Follows the node's canonical chain into the `blocks` table (docs/architecture.md, invariants 1, 2, 7):
 * fetch → verify → store → hand to the listener, one database transaction per batch. A block that
 * does not link to the stored head starts a walk back to the common ancestor; the abandoned branch
 * is demoted and withdrawn in one transaction before the new branch is applied.
 */
export class Follower {
  readonly #o: FollowerOptions
  readonly #log: Logger
  readonly #mode: ReceiptsMode
  #unverifiedBlocks = 0
  #lastUnverified: FollowerSnapshot['lastUnverified']
  #head: BlockRef | undefined
  #safe: BlockRef | undefined
  #finalized: BlockRef | undefined
  #nodeHead: number | undefined
  #alarm: string | undefined
  #lastError: string | undefined
  #status: FollowerStatus | undefined
  #running = false
  #wake: (() => void) | undefined
  #dirty = false
  #loop: Promise<void> | undefined
  #unsubscribe: (() => Promise<void>) | undefined
  #backoffMs = 0
  readonly #schedule: PollSchedule | undefined
  readonly #listeners = new Set<(status: FollowerStatus) => void>()
  readonly #m: {
    block: Gauge<'tag'>
    blocks: Counter
    logs: Counter
    reorgs: Counter
    reorgDepth: Histogram
    inconsistent: Counter
    unverified: Counter<'type'>
    errors: Counter<'kind'>
    alarm: Gauge
    batchSeconds: Histogram
    pruned: Counter
  }

  constructor(options: FollowerOptions) {
    this.#o = options
    this.#mode = { perBlock: true, unknownTransactionTypes: options.unknownTransactionTypes ?? 'refuse' }
    this.#log = options.logger.child({ component: 'follower' })
    if (options.headPolling !== 'fixed') this.#schedule = new PollSchedule({ idleMs: options.pollIntervalMs })
    const registers = [options.metrics]
    this.#m = {
      block: new Gauge({
        name: 'wallet_backend_chain_block_number',
        help: 'Block number of the stored head, safe and finalized blocks, and of the node head',
        labelNames: ['tag'],
        registers,
      }),
      blocks: new Counter({ name: 'wallet_backend_chain_blocks_total', help: 'Blocks stored', registers }),
      logs: new Counter({
        name: 'wallet_backend_chain_logs_total',
        help: 'Logs in stored blocks',
        registers,
      }),
      reorgs: new Counter({ name: 'wallet_backend_chain_reorgs_total', help: 'Reorgs handled', registers }),
      reorgDepth: new Histogram({
        name: 'wallet_backend_chain_reorg_depth',
        help: 'Blocks abandoned per reorg',
        buckets: [1, 2, 3, 5, 10, 20, 30, 64, 128],
        registers,
      }),
      inconsistent: new Counter({
        name: 'wallet_backend_chain_inconsistent_data_total',
        help: 'Node answers refused because they did not hash to their header',
        registers,
      }),
      unverified: new Counter({
        name: 'wallet_backend_chain_unverified_blocks_total',
        help: 'Blocks stored on the node’s word (--unknown-transaction-types trust-node), by transaction type that could not be checked',
        labelNames: ['type'],
        registers,
      }),
      errors: new Counter({
        name: 'wallet_backend_chain_sync_errors_total',
        help: 'Failed follow cycles by kind',
        labelNames: ['kind'],
        registers,
      }),
      alarm: new Gauge({
        name: 'wallet_backend_chain_alarm',
        help: '1 after a reorg below the finalized block',
        registers,
      }),
      batchSeconds: new Histogram({
        name: 'wallet_backend_chain_batch_seconds',
        help: 'Time to fetch, verify and store one batch of blocks',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
      pruned: new Counter({
        name: 'wallet_backend_chain_pruned_blocks_total',
        help: 'Blocks pruned',
        registers,
      }),
    }
  }

  snapshot(): FollowerSnapshot {
    return {
      head: this.#head,
      safe: this.#safe,
      finalized: this.#finalized,
      nodeHead: this.#nodeHead,
      alarm: this.#alarm,
      lastError: this.#lastError,
      receiptsSource: this.#mode.perBlock ? 'eth_getBlockReceipts' : 'eth_getTransactionReceipt',
      unknownTransactionTypes: this.#mode.unknownTransactionTypes ?? 'refuse',
      unverifiedBlocks: this.#unverifiedBlocks,
      lastUnverified: this.#lastUnverified,
    }
  }

  onStatus(listener: (status: FollowerStatus) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#head = await getCanonicalHead(this.#o.db)
    if (this.#head) this.#log.info({ head: this.#head }, 'resuming from the stored chain')
    if (this.#o.subscribeHeads) {
      try {
        this.#unsubscribe = await this.#o.subscribeHeads(() => this.poke())
      } catch (error) {
        this.#log.warn({ err: error }, 'newHeads subscription failed; polling instead')
      }
    }
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#running = false
    this.#wake?.()
    await this.#unsubscribe?.().catch(() => {})
    await this.#loop
  }

  /** Asks for a follow cycle now (a new head was announced). */
  poke(): void {
    this.#dirty = true
    this.#wake?.()
  }

  /** Resolves once the stored head has reached `number` (tests and back-fills use it). */
  async waitForHead(number: number, timeoutMs = 30_000): Promise<BlockRef> {
    const deadline = Date.now() + timeoutMs
    while ((this.#head?.number ?? -1) < number) {
      if (Date.now() > deadline) throw new Error(`head did not reach ${number} within ${timeoutMs} ms`)
      this.poke()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return this.#head!
  }

  #turn: Promise<unknown> = Promise.resolve()

  /**
   * Runs `fn` between follow cycles, never during one: what it reads of the stored chain and the
   * listeners' state stays put until it is done. Keep it short; the chain waits for it.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn, fn)
    this.#turn = run.catch(() => {})
    return run
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#dirty = false
      try {
        await this.exclusive(() => this.#cycle())
        this.#backoffMs = 0
        this.#lastError = undefined
      } catch (error) {
        this.#onError(error)
      }
      if (!this.#running) break
      if (this.#dirty && this.#backoffMs === 0) continue
      const wait =
        this.#backoffMs ||
        (this.#unsubscribe
          ? this.#o.pollIntervalMs * 10
          : (this.#schedule?.delayMs(performance.now()) ?? this.#o.pollIntervalMs))
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }

  #onError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    this.#lastError = message
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(250, this.#backoffMs * 2))
    const code = (error as { code?: unknown }).code
    if (error instanceof InconsistentNodeDataError) {
      this.#m.inconsistent.inc()
      this.#m.errors.inc({ kind: 'inconsistent' })
      this.#log.error({ err: error, details: error.details }, 'refused inconsistent data from the node')
      return
    }
    if (code === 'STORAGE_UNAVAILABLE') {
      this.#m.errors.inc({ kind: 'storage' })
      this.#setStatus({ kind: 'storage-unavailable', reason: message })
    } else {
      this.#m.errors.inc({ kind: 'node' })
      this.#setStatus({ kind: 'node-unavailable', reason: message })
    }
    this.#log.warn({ err: error, retryInMs: this.#backoffMs }, 'follow cycle failed')
  }

  #setStatus(status: FollowerStatus): void {
    if (this.#status?.kind === status.kind) return
    this.#status = status
    for (const listener of this.#listeners) listener(status)
  }

  /** One pass: read the node's tags, catch up to its head (handling reorgs), advance finality, prune. */
  async #cycle(): Promise<void> {
    const polledAt = performance.now()
    const [latest, safe, finalized] = await this.#tags()
    const target = Number(latest.number)
    this.#schedule?.observe(target, polledAt)
    this.#nodeHead = target
    this.#m.block.set({ tag: 'node' }, target)

    if (!this.#head) await this.#bootstrap(target)
    if (this.#head!.number > target) {
      // The node is behind what we stored: a lagging endpoint or a shortened chain. Only a
      // hash that differs at the node's height proves a reorg; otherwise wait for it.
      const hashes = await getCanonicalHashes(this.#o.db, target, target)
      if (hashes.get(target) !== latest.hash) await this.#reorg()
      else this.#log.warn({ stored: this.#head!.number, node: target }, 'node head is behind the stored head')
    } else if (this.#head!.number === target && this.#head!.hash !== latest.hash) {
      await this.#reorg()
    }

    const gap = target - this.#head!.number
    if (gap > CATCH_UP_GAP) this.#setStatus({ kind: 'catching-up', reason: `${gap} blocks behind the node` })
    await this.#catchUp(target)
    this.#updateFinality(safe, finalized)
    this.#setStatus({ kind: 'live', reason: `following at block ${this.#head!.number}` })
    await this.#prune()
  }

  async #tags(): Promise<[RpcBlockHeader, RpcBlockHeader | undefined, RpcBlockHeader | undefined]> {
    const results = await this.#o.node.batch<RpcBlockHeader | null>([
      { method: 'eth_getBlockByNumber', params: ['latest', false] },
      { method: 'eth_getBlockByNumber', params: ['safe', false] },
      { method: 'eth_getBlockByNumber', params: ['finalized', false] },
    ])
    const [latest, safe, finalized] = results
    if (!latest?.ok) throw latest?.error ?? new Error('no answer for the latest block')
    if (!latest.value) throw new Error('the node has no latest block')
    const tag = (r: typeof safe) => (r?.ok && r.value ? r.value : undefined)
    return [latest.value, tag(safe), tag(finalized)]
  }

  async #bootstrap(nodeHead: number): Promise<void> {
    const start = this.#o.startBlock === 'latest' ? nodeHead : Math.min(this.#o.startBlock, nodeHead)
    const [first] = await fetchBlocks(this.#o.node, [start], this.#mode)
    await this.#store([first!])
    this.#log.info({ block: this.#head }, 'started following the chain')
  }

  /** Fetches and stores blocks up to `target` in pipelined batches: the next batch is in flight while one is stored. */
  async #catchUp(target: number): Promise<void> {
    const fetchFrom = (from: number) => {
      const numbers: number[] = []
      for (let n = from; n <= Math.min(target, from + this.#o.batchSize - 1); n++) numbers.push(n)
      const pending = fetchBlocks(this.#o.node, numbers, this.#mode)
      pending.catch(() => {}) // an abandoned prefetch must not become an unhandled rejection
      return pending
    }
    let next = this.#head!.number + 1
    let pending = next <= target ? fetchFrom(next) : undefined
    while (pending && this.#running) {
      const started = performance.now()
      const batch = await pending
      const after = next + batch.length
      pending = after <= target ? fetchFrom(after) : undefined
      const linked = this.#linkedPrefix(batch)
      if (linked.length > 0) await this.#store(linked)
      this.#m.batchSeconds.observe((performance.now() - started) / 1000)
      if (linked.length < batch.length) {
        await this.#reorg()
        next = this.#head!.number + 1
        pending = next <= target ? fetchFrom(next) : undefined
        continue
      }
      next = after
    }
  }

  /** The leading blocks of a batch that extend the stored head, each the parent of the next. */
  #linkedPrefix(batch: readonly FetchedBlock[]): FetchedBlock[] {
    let parent = this.#head!.hash
    const linked: FetchedBlock[] = []
    for (const item of batch) {
      if (item.block.parentHash !== parent) break
      linked.push(item)
      parent = item.block.hash
    }
    return linked
  }

  async #store(blocks: FetchedBlock[]): Promise<void> {
    const prepared = await this.#o.listener.prepare?.(blocks)
    await this.#o.db.transaction().execute(async (trx) => {
      await insertCanonicalBlocks(trx, blocks)
      await this.#o.listener.blocksAdded(trx, blocks, prepared)
    })
    this.#o.listener.committed?.()
    const last = blocks[blocks.length - 1]!.block
    this.#head = { number: Number(last.number), hash: last.hash }
    this.#m.blocks.inc(blocks.length)
    this.#m.logs.inc(blocks.reduce((sum, b) => sum + b.receipts.reduce((s, r) => s + r.logs.length, 0), 0))
    this.#m.block.set({ tag: 'head' }, this.#head.number)
    for (const { block, unverified } of blocks) {
      if (!unverified) continue
      this.#unverifiedBlocks += 1
      this.#lastUnverified = { number: Number(block.number), hash: block.hash, types: unverified.types }
      for (const type of unverified.types) this.#m.unverified.inc({ type })
      // Such a chain may have one in every block: said once, then at debug.
      this.#log[this.#unverifiedBlocks === 1 ? 'warn' : 'debug'](
        { number: Number(block.number), hash: block.hash, types: unverified.types },
        'stored a block on the node’s word: its transaction types cannot be checked',
      )
    }
  }

  /** Walks back to the newest block the node and the store agree on, and abandons everything above it. */
  async #reorg(): Promise<void> {
    const ancestor = await this.#findCommonAncestor()
    const head = this.#head!
    if (!ancestor) {
      this.#raiseAlarm(`no common ancestor with the node in the stored chain below block ${head.number}`)
      const removed = await this.#o.db.transaction().execute(async (trx) => {
        const demoted = await demoteAbove(trx, -1)
        await this.#o.listener.blocksRemoved(trx, demoted)
        return demoted
      })
      this.#o.listener.committed?.()
      this.#head = undefined
      this.#log.error({ removed: removed.length }, 'restarting from the node head')
      await this.#bootstrap(this.#nodeHead ?? 0)
      return
    }
    if (this.#finalized && ancestor.number < this.#finalized.number) {
      this.#raiseAlarm(
        `reorg below the finalized block ${this.#finalized.number}: common ancestor is block ${ancestor.number}`,
      )
    }
    const removed = await this.#o.db.transaction().execute(async (trx) => {
      const demoted = await demoteAbove(trx, ancestor.number)
      await this.#o.listener.blocksRemoved(trx, demoted)
      return demoted
    })
    this.#o.listener.committed?.()
    this.#head = ancestor
    this.#m.reorgs.inc()
    this.#m.reorgDepth.observe(removed.length)
    this.#m.block.set({ tag: 'head' }, ancestor.number)
    this.#log.warn(
      { depth: removed.length, ancestor, abandonedHead: head },
      `reorg: ${removed.length} block(s) above ${ancestor.number} abandoned`,
    )
  }

  async #findCommonAncestor(): Promise<BlockRef | undefined> {
    const tail = await getCanonicalTail(this.#o.db)
    if (!tail) return undefined
    let top = this.#head!.number
    while (top >= tail.number) {
      const bottom = Math.max(tail.number, top - ANCESTOR_WINDOW + 1)
      const stored = await getCanonicalHashes(this.#o.db, bottom, top)
      const numbers = Array.from({ length: top - bottom + 1 }, (_, i) => top - i)
      const results = await this.#o.node.batch<RpcBlockHeader | null>(
        numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [hex(n), false] })),
      )
      for (const [i, n] of numbers.entries()) {
        const result = results[i]
        if (result && !result.ok) throw result.error
        const header = result?.ok ? result.value : null
        if (header && stored.get(n) === header.hash) return { number: n, hash: header.hash as Hex }
      }
      top = bottom - 1
    }
    return undefined
  }

  #raiseAlarm(message: string): void {
    this.#alarm = message
    this.#m.alarm.set(1)
    this.#log.error({ alarm: message }, `ALARM: ${message}`)
  }

  #updateFinality(safe: RpcBlockHeader | undefined, finalized: RpcBlockHeader | undefined): void {
    const head = this.#head!
    const fallback = Math.max(0, head.number - this.#o.confirmations)
    const toRef = (header: RpcBlockHeader | undefined): BlockRef | undefined =>
      header ? { number: Number(header.number), hash: header.hash } : undefined
    this.#safe = toRef(safe) ?? { number: fallback, hash: '0x' }
    this.#finalized = toRef(finalized) ?? { number: fallback, hash: '0x' }
    if (this.#safe.number > head.number) this.#safe = head
    if (this.#finalized.number > head.number) this.#finalized = head
    this.#m.block.set({ tag: 'safe' }, this.#safe.number)
    this.#m.block.set({ tag: 'finalized' }, this.#finalized.number)
  }

  async #prune(): Promise<void> {
    const finalized = this.#finalized?.number
    if (finalized === undefined) return
    const removed = await pruneBlocks(this.#o.db, {
      nonCanonicalBelow: finalized,
      canonicalBelow: finalized - this.#o.retainFinalizedBlocks,
      limit: 1000,
    })
    if (removed > 0) {
      this.#m.pruned.inc(removed)
      this.#log.debug({ removed, finalized }, 'pruned blocks')
    }
  }
}
