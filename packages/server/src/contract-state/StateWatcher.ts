import { verifyAccountProof } from '@wallet-backend/sdk/verify'
import type { Kysely, Transaction } from 'kysely'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { Follower } from '../chain/follower/Follower.js'
import { type FetchedBlock, InconsistentNodeDataError } from '../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { ItemProducer } from '../delivery/DeliveryListener.js'
import type { DeliveryQueue, QueueItem, QueueItemOf } from '../delivery/DeliveryQueue.js'
import type { Deployments } from '../delivery/Deployments.js'
import type { QueuePayloads } from '../delivery/queuePayloads.js'
import type { DB } from '../storage/schema.js'
import type { CompiledWatch } from './compileWatch.js'
import {
  deleteStatesOfBlocks,
  insertStates,
  loadLatestValues,
  pruneStates,
  type StateRow,
  type StoredValue,
  type ValueId,
  valueId,
} from './contractStateStore.js'
import { decodeCallResult } from './decodeCallResult.js'
import {
  type AccountReading,
  type AccountState,
  type CallResult,
  EMPTY_CODE_HASH,
  isStateGone,
  readAccounts,
  readCalls,
} from './readWatchedState.js'
import { touchedAddresses } from './touchedAddresses.js'
import type { WatchedInterest, Watcher, WatchIndex } from './WatchIndex.js'

/** What was read of one contract at one block; a view call not read there is absent from `calls`. */
type Reading = { account: AccountState; slots: Map<Hex, Hex>; calls: Map<Hex, CallResult> }
type BlockToRead = BlockRef & { stateRoot: Hex; touched: ReadonlySet<Hex> | 'all' }
export type StateReason = 'initial' | 'changed' | 'deployed' | 'reorg'

/** Prune superseded values once in this many stored batches. */
const PRUNE_EVERY = 64
/** How many recent (contract, block) reads are remembered to tell a re-read from a first read. */
const REREAD_MEMORY = 4096

/**
 * Contract-state watches: for every block, reads each watched contract's
 * account fields and watched slots with one `eth_getProof`, and its view calls with `eth_call` where
 * the block touched the contract or changed its account (a changed storage root catches internal
 * calls that leave no log) — every (contract, block, value) at most once, all in batches, before the
 * block's transaction. Inside it, values that changed are stored at their block and queued as
 * `state` items to every watcher, in chain order with the block's other items.
 *
 * Reorgs: values read at abandoned blocks are deleted (their queued items are withdrawn by the
 * delivery listener, with `removed` notices where delivered); at the next block the values are
 * re-read and sent again to every watcher (`reorg`), so each client ends with the new chain's value.
 * A new watch gets the current value (`initial`) at once; a contract without code gets none for
 * its slots and calls until its deployment, where every watcher gets every value (`deployed`).
 */
/** What a batch's reads found: each watched contract's reading, by block hash and address. */
type Readings = ReadonlyMap<Hex, ReadonlyMap<Hex, Reading>>

export class StateWatcher implements ChainListener, ItemProducer<Readings> {
  readonly #db: Kysely<DB>
  readonly #node: NodeClient
  readonly #index: WatchIndex
  readonly #log: Logger
  #follower: Follower | undefined
  /** The latest value of each watched value: its value now, as committed. */
  #latest = new Map<ValueId, StoredValue>()
  /** The last committed account of each contract: where it did not change, view calls are not re-read. */
  readonly #accounts = new Map<Hex, AccountState>()
  /** Watchers owed their first value. */
  readonly #owed = new Set<number>()
  /** Values whose rows a reorg deleted: sent again at the next block they are read at. */
  readonly #reorged = new Set<ValueId>()
  #pending = this.#emptyPending()
  #batches = 0
  #priming: Promise<void> | undefined
  /** (contract, block) pairs read lately, in order: a batch the follower retries reads them again. */
  readonly #readLately = new Set<string>()
  readonly #m: { reads: Counter<'method'>; rereads: Counter; changes: Counter; refused: Counter }

  readonly #queue: DeliveryQueue
  readonly #deployments: Deployments
  readonly #chargeReads: ((reads: ReadonlyMap<Hex, number>) => void) | undefined

  constructor(options: {
    db: Kysely<DB>
    node: NodeClient
    index: WatchIndex
    queue: DeliveryQueue
    /** Where code appearing at a watched address is recorded as its deployment. */
    deployments: Deployments
    logger: Logger
    metrics: Registry
    /** Charges each client its share of the node reads its watches caused (cost limit and usage). */
    chargeReads?: (reads: ReadonlyMap<Hex, number>) => void
  }) {
    this.#db = options.db
    this.#chargeReads = options.chargeReads
    this.#queue = options.queue
    this.#deployments = options.deployments
    this.#node = options.node
    this.#index = options.index
    this.#log = options.logger.child({ component: 'contract-state' })
    const registers = [options.metrics]
    this.#m = {
      reads: new Counter({
        name: 'wallet_backend_contract_state_reads_total',
        help: 'Watched-state reads asked of the node, by method',
        labelNames: ['method'],
        registers,
      }),
      rereads: new Counter({
        name: 'wallet_backend_contract_state_rereads_total',
        help: 'Of the eth_getProof reads, those of a (contract, block) already read: a retried batch or a refused answer',
        registers,
      }),
      changes: new Counter({
        name: 'wallet_backend_contract_state_changes_total',
        help: 'Watched values found changed and stored',
        registers,
      }),
      refused: new Counter({
        name: 'wallet_backend_contract_state_proofs_refused_total',
        help: 'Node state answers refused because their proof did not lead to the block state root',
        registers,
      }),
    }
  }

  /** Loads the latest stored values; `follower` is where a new watch's first read waits its turn. */
  async start(follower: Follower): Promise<void> {
    this.#follower = follower
    this.#latest = await loadLatestValues(this.#db)
  }

  get index(): WatchIndex {
    return this.#index
  }

  /** Installs an interest's watches (replacing its old ones) and sends their current values soon. */
  setInterest(interest: WatchedInterest): void {
    for (const watcher of this.#index.setInterest(interest)) this.#owed.add(watcher.watchId)
    this.#primeSoon()
  }

  removeInterest(clientContractId: number): void {
    this.#index.removeInterest(clientContractId)
  }

  /** Resolves once every owed first value has been read and queued (or the attempt failed). */
  async settled(): Promise<void> {
    while (this.#priming) await this.#priming
  }

  /** Before the batch's transaction: reads the watched contracts at its blocks. */
  async prepareItems(blocks: readonly FetchedBlock[]): Promise<Readings> {
    if (this.#index.size === 0) return new Map()
    const toRead = blocks.map(({ block }, i) => ({
      number: Number(block.number),
      hash: block.hash,
      stateRoot: block.stateRoot,
      touched: touchedAddresses(blocks[i]!),
    }))
    return this.#read(toRead, this.#index.addresses())
  }

  /** The `state` items of the blocks just prepared, in block order; the changed values are stored in `trx`. */
  async itemsFor(
    trx: Transaction<DB>,
    blocks: readonly FetchedBlock[],
    readings: Readings,
  ): Promise<QueueItem[]> {
    // What an earlier batch whose transaction failed left pending never happened.
    this.#pending = this.#emptyPending()
    const refs = blocks.map(({ block }) => ({ number: Number(block.number), hash: block.hash }))
    const items = await this.#evaluate(trx, refs, readings)
    if (++this.#batches % PRUNE_EVERY === 0) {
      const finalized = this.#follower?.snapshot().finalized?.number
      if (finalized !== undefined) await pruneStates(trx, finalized)
    }
    return items
  }

  async blocksAdded(): Promise<void> {
    // The items and rows of added blocks are made in itemsFor, called by the delivery listener so
    // that state items take their place in chain order among the block's other items.
  }

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    this.#pending = this.#emptyPending()
    const lost = await deleteStatesOfBlocks(
      trx,
      blocks.map((block) => block.hash),
    )
    if (lost.length === 0) return
    const addresses = [...new Set(lost.map((value) => value.address))]
    this.#pending.reloaded = await loadLatestValues(trx, addresses)
    this.#pending.lost = lost.map((value) => valueId(value.address, value.key))
  }

  committed(): void {
    const pending = this.#pending
    this.#pending = this.#emptyPending()
    for (const [id, value] of pending.latest) this.#latest.set(id, value)
    for (const [address, account] of pending.accounts) this.#accounts.set(address, account)
    for (const watchId of pending.paid) this.#owed.delete(watchId)
    for (const id of pending.resent) this.#reorged.delete(id)
    if (pending.lost.length > 0) {
      for (const id of pending.lost) {
        const value = pending.reloaded.get(id)
        if (value) this.#latest.set(id, value)
        else this.#latest.delete(id)
        this.#reorged.add(id)
      }
      // The abandoned branch's accounts say nothing about the new one: read every view call again.
      this.#accounts.clear()
    }
  }

  #emptyPending() {
    return {
      latest: new Map<ValueId, StoredValue>(),
      accounts: new Map<Hex, AccountState>(),
      paid: new Set<number>(),
      resent: new Set<ValueId>(),
      lost: [] as ValueId[],
      reloaded: new Map<ValueId, StoredValue>(),
    }
  }

  /** First values are read at the stored head between follow cycles, so no block passes meanwhile. */
  #primeSoon(): void {
    if (this.#priming || !this.#follower) return
    const follower = this.#follower
    this.#priming = follower
      .exclusive(() => this.#prime(follower))
      .catch((error: unknown) => {
        // Still owed: the next block pays them.
        this.#log.warn(
          { err: error },
          'reading the first values of new watches failed; retrying at the next block',
        )
      })
      .finally(() => {
        this.#priming = undefined
        if (this.#owedAddresses().length > 0 && !this.#retryScheduled) {
          this.#retryScheduled = true
          setTimeout(() => {
            this.#retryScheduled = false
            this.#primeSoon()
          }, 1_000).unref()
        }
      })
  }

  #retryScheduled = false

  async #prime(follower: Follower): Promise<void> {
    const head = follower.snapshot().head
    const addresses = this.#owedAddresses()
    if (!head || addresses.length === 0) return
    const stored = await this.#db
      .selectFrom('blocks')
      .select('state_root')
      .where('hash', '=', hexToBytes(head.hash))
      .executeTakeFirstOrThrow()
    const block = { ...head, stateRoot: bytesToHex(stored.state_root), touched: 'all' as const }
    const prepared = await this.#read([block], addresses)
    this.#pending = this.#emptyPending()
    const items = await this.#queue.transaction(async (queue) => {
      const items = await this.#evaluate(queue.trx, [head], prepared)
      await queue.enqueue(items)
      return items
    })
    this.committed()
    this.#log.debug({ addresses: addresses.length, items: items.length, head }, 'first values of new watches')
  }

  #owedAddresses(): Hex[] {
    if (this.#owed.size === 0) return []
    return this.#index
      .addresses()
      .filter((address) =>
        [...this.#index.valuesOf(address).values()].some((value) =>
          value.watchers.some((w) => this.#owed.has(w.watchId)),
        ),
      )
  }

  #countRereads(requests: readonly { block: BlockRef; address: Hex }[]): void {
    for (const { block, address } of requests) {
      const key = `${address}${block.hash}`
      if (this.#readLately.has(key)) this.#m.rereads.inc()
      else this.#readLately.add(key)
    }
    // A retry comes within a few batches; older pairs only cost memory.
    for (const key of this.#readLately) {
      if (this.#readLately.size <= REREAD_MEMORY) break
      this.#readLately.delete(key)
    }
  }

  /**
   * Reads `addresses` at `blocks`: account and slots everywhere, view calls where the contract was
   * touched, its account changed since the block before, a reorg or a new watch asks for them. A
   * failed read at the last block fails the batch (it is retried); at an earlier block it is skipped,
   * so a node that keeps only recent state still moves on, comparing at the blocks it can serve.
   * The node saying it no longer has a block's state skips the last block too: retrying would
   * never succeed, and a backend behind a node that lost its history would never catch up.
   */
  async #read(
    blocks: readonly BlockToRead[],
    addresses: readonly Hex[],
  ): Promise<Map<Hex, Map<Hex, Reading>>> {
    const requests = blocks.flatMap((block) =>
      addresses.map((address) => ({
        block,
        address,
        slots: [...this.#index.valuesOf(address).values()]
          .map((v) => v.watch)
          .filter((w): w is Extract<CompiledWatch, { kind: 'slot' }> => w.kind === 'slot')
          .map((w) => w.slot),
      })),
    )
    const reads = new Map<Hex, number>()
    for (const { address } of requests) {
      splitRead(
        reads,
        [...this.#index.valuesOf(address).values()].flatMap((v) => v.watchers),
      )
    }
    const accounts = await readAccounts(
      this.#node,
      requests.map((r) => ({ address: r.address, slots: r.slots, blockHash: r.block.hash })),
    ).finally(() => this.#chargeReads?.(reads))
    this.#m.reads.inc({ method: 'eth_getProof' }, requests.length)
    this.#countRereads(requests)
    const last = blocks[blocks.length - 1]!
    const readings = new Map<Hex, Map<Hex, Reading>>(blocks.map((block) => [block.hash, new Map()]))
    const previous = new Map<Hex, AccountState | undefined>(addresses.map((a) => [a, this.#accounts.get(a)]))
    const calls: { block: BlockRef; address: Hex; data: Hex; watchers: readonly Watcher[] }[] = []
    for (const [i, request] of requests.entries()) {
      const { block, address } = request
      const before = previous.get(address)
      let answer = accounts[i]!
      // A reading that shows a change must prove it against the block's state root: a node's
      // answer for another block (a race inside it, a lagging replica) would be a false change.
      // Unchanged readings are not checked, so the cost follows the changes, not the watches.
      if (!(answer instanceof Error) && this.#showsChange(address, before, answer)) {
        const reading = answer
        answer = await verifyAccountProof(block.stateRoot, reading.proof).then(
          () => reading,
          (error: Error) => {
            this.#m.refused.inc()
            return new InconsistentNodeDataError(
              `eth_getProof of ${address} at block ${block.number} does not prove against its state root: ${error.message}`,
              { address, block: block.hash },
            )
          },
        )
      }
      if (answer instanceof Error) {
        if (block.hash === last.hash && !isStateGone(answer)) throw answer
        continue
      }
      readings.get(block.hash)!.set(address, { ...answer, calls: new Map() })
      previous.set(address, answer.account)
      const callWatches = [...this.#index.valuesOf(address).values()].filter((v) => v.watch.kind === 'call')
      if (callWatches.length === 0) continue
      const due =
        block.touched === 'all' ||
        block.touched.has(address) ||
        !before ||
        !sameAccount(before, answer.account) ||
        callWatches.some(
          (v) =>
            this.#reorged.has(valueId(address, v.watch.key)) ||
            v.watchers.some((w) => this.#owed.has(w.watchId)),
        )
      if (!due) continue
      for (const { watch, watchers } of callWatches) {
        if (watch.kind === 'call') calls.push({ block, address, data: watch.data, watchers })
      }
    }
    const callReads = new Map<Hex, number>()
    for (const call of calls) splitRead(callReads, call.watchers)
    const results = await readCalls(
      this.#node,
      calls.map((c) => ({
        address: c.address,
        data: c.data,
        blockHash: c.block.hash,
        blockNumber: c.block.number,
      })),
    ).finally(() => this.#chargeReads?.(callReads))
    this.#m.reads.inc({ method: 'eth_call' }, calls.length)
    for (const [i, call] of calls.entries()) {
      const result = results[i]!
      if (result instanceof Error) {
        if (call.block.hash === last.hash && !isStateGone(result)) throw result
        continue
      }
      readings.get(call.block.hash)!.get(call.address)!.calls.set(call.data, result)
    }
    return readings
  }

  #showsChange(address: Hex, before: AccountState | undefined, reading: AccountReading): boolean {
    return showsChangeOf(before, reading, (slot) => this.#latest.get(valueId(address, `slot:${slot}`))?.json)
  }

  /** Compares readings with the latest values, stores what changed, and makes the items owed. */
  async #evaluate(
    trx: Transaction<DB>,
    blocks: readonly BlockRef[],
    prepared: Readings,
  ): Promise<QueueItem[]> {
    const pending = this.#pending
    const latest = (id: ValueId) => pending.latest.get(id) ?? this.#latest.get(id)
    const rows: StateRow[] = []
    const items: QueueItem[] = []
    for (const block of blocks) {
      const readings = prepared.get(block.hash)
      if (!readings) continue
      for (const [address, reading] of readings) {
        const before = pending.accounts.get(address) ?? this.#accounts.get(address)
        const deployed =
          before !== undefined &&
          before.codeHash === EMPTY_CODE_HASH &&
          reading.account.codeHash !== EMPTY_CODE_HASH
        const hasCode = reading.account.codeHash !== EMPTY_CODE_HASH
        pending.accounts.set(address, reading.account)
        // Code appearing here is the contract's deployment, at this block, for every interest in it.
        if (deployed) {
          const at = { block, txHash: null, txIndex: null }
          const deployments = await this.#deployments.record(
            trx,
            address,
            at,
            'state',
            reading.account.codeHash,
          )
          items.push(...(deployments ?? []))
        }
        for (const [key, { watch, watchers }] of this.#index.valuesOf(address)) {
          const value = watchedValue(watch, reading)
          if (value === undefined) continue
          const id = valueId(address, key)
          const json = JSON.stringify(value)
          const stored = latest(id)
          const changed = stored?.json !== json
          if (changed) {
            rows.push({ address, key, blockHash: block.hash, blockNumber: block.number, json })
            pending.latest.set(id, { json, blockNumber: block.number })
          }
          const resend = this.#reorged.has(id) && !pending.resent.has(id)
          if (resend) pending.resent.add(id)
          const shared: StateReason | undefined = deployed
            ? 'deployed'
            : changed && stored
              ? 'changed'
              : resend
                ? 'reorg'
                : undefined
          for (const watcher of watchers) {
            const owed = this.#owed.has(watcher.watchId) && !pending.paid.has(watcher.watchId)
            // A watcher owed its first value gets it as such, whatever else happened to the value.
            const reason = owed ? 'initial' : (shared ?? (changed && !stored ? 'initial' : undefined))
            if (owed) pending.paid.add(watcher.watchId)
            if (!reason) continue
            // Slots and calls of an address without code say nothing yet; its deployment will.
            if (reason === 'initial' && !hasCode && (watch.kind === 'slot' || watch.kind === 'call')) continue
            items.push(stateItem(watcher, watch, block, value, stored, reason))
          }
        }
      }
    }
    await insertStates(trx, rows)
    this.#m.changes.inc(rows.length)
    return items
  }
}

/** Whether a reading differs from the one before it (or from the latest values, at the first block). */
function showsChangeOf(
  before: AccountState | undefined,
  reading: AccountReading,
  latestSlot: (slot: Hex) => string | undefined,
): boolean {
  if (!before || !sameAccount(before, reading.account)) return true
  for (const [slot, value] of reading.slots) if (latestSlot(slot) !== JSON.stringify(value)) return true
  return false
}

function sameAccount(a: AccountState, b: AccountState): boolean {
  return (
    a.balance === b.balance &&
    a.nonce === b.nonce &&
    a.codeHash === b.codeHash &&
    a.storageRoot === b.storageRoot
  )
}

function watchedValue(watch: CompiledWatch, reading: Reading): unknown {
  switch (watch.kind) {
    case 'slot':
      return reading.slots.get(watch.slot)
    case 'call':
      return reading.calls.get(watch.data)
    default:
      return reading.account[watch.kind]
  }
}

function stateItem(
  watcher: Watcher,
  watch: CompiledWatch,
  block: BlockRef,
  value: unknown,
  stored: StoredValue | undefined,
  reason: StateReason,
): QueueItemOf<'state'> {
  const payload: QueuePayloads['state'] = {
    watch: { id: watcher.watchId, kind: watcher.kind, args: watcher.args },
    value,
    previous:
      reason === 'changed' && stored
        ? { value: JSON.parse(stored.json), blockNumber: stored.blockNumber }
        : null,
    reason,
  }
  if (watch.kind === 'call' && value && typeof value === 'object' && 'result' in value) {
    const decoded = decodeCallResult(watcher.abi, watch.data, (value as { result: Hex }).result)
    if (decoded) payload.decoded = decoded
  }
  return {
    clientId: watcher.clientId,
    kind: 'state',
    clientContractId: watcher.clientContractId,
    filterId: null,
    blockNumber: block.number,
    blockHash: block.hash,
    txHash: null,
    txIndex: null,
    logIndex: null,
    payload,
  }
}

/**
 * Adds one node read to `reads`, split evenly among the distinct clients of `watchers`: a value
 * many clients watch is read once per block, and each pays its share.
 */
function splitRead(reads: Map<Hex, number>, watchers: readonly Watcher[]): void {
  const clients = new Set(watchers.map((w) => w.clientId))
  for (const client of clients) reads.set(client, (reads.get(client) ?? 0) + 1 / clients.size)
}
