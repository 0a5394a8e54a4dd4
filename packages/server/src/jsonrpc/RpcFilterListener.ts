import { type Insertable, sql, type Transaction } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef, ChainListener } from '../chain/follower/ChainListener.js'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { DB, RpcFilterChangesTable, RpcFilterKind } from '../storage/schema.js'
import { type LogCriteria, matchesLog } from './logCriteria.js'

const CHUNK = 500
/** Read changes of blocks at least this far below the head are forgotten when finality is unknown. */
const FALLBACK_RETAIN_BLOCKS = 64
const HOUSEKEEPING_MS = 60_000

type LiveFilter = {
  id: Uint8Array
  clientId: Uint8Array
  kind: RpcFilterKind
  subscription: boolean
  criteria: LogCriteria
}

/** Log filters by the emitters they name, and those that name none (any emitter). */
function indexByAddress(filters: readonly LiveFilter[]): {
  byAddress: Map<string, LiveFilter[]>
  anyAddress: LiveFilter[]
} {
  const byAddress = new Map<string, LiveFilter[]>()
  const anyAddress: LiveFilter[] = []
  for (const filter of filters) {
    if (filter.criteria.addresses.length === 0) anyAddress.push(filter)
    // A filter naming an emitter twice is still one candidate for its logs.
    for (const address of new Set(filter.criteria.addresses)) {
      const list = byAddress.get(address)
      if (list) list.push(filter)
      else byAddress.set(address, [filter])
    }
  }
  return { byAddress, anyAddress }
}

/**
 * Feeds the JSON-RPC filters and subscriptions, inside the follower's transaction: each added
 * block's matching logs (or the block itself) become changes in the filter's own sequence, and a
 * reorg takes back what its blocks gave — changes not read yet vanish, logs already read come
 * again with `removed: true`, before the new branch's. The filters are read from the database in
 * each transaction rather than kept in memory, so one created on any instance is matched from
 * the next batch on, and a new leader needs nothing loaded.
 */
export class RpcFilterListener implements ChainListener {
  readonly #idleMs: number
  readonly #log: Logger
  readonly #wake: (clientIds: Hex[]) => void
  #touched = new Set<Hex>()
  #housekeptAt = 0

  constructor(options: { idleMs: number; logger: Logger; wake: (clientIds: Hex[]) => void }) {
    this.#idleMs = options.idleMs
    this.#log = options.logger.child({ component: 'jsonrpc' })
    this.#wake = options.wake
  }

  async blocksAdded(trx: Transaction<DB>, blocks: readonly FetchedBlock[]): Promise<void> {
    if (blocks.length === 0) return
    await this.#housekeeping(trx, Number(blocks[blocks.length - 1]!.block.number))
    const filters = (
      await trx
        .selectFrom('rpc_filters')
        .select(['id', 'client_id', 'kind', 'subscription', 'criteria'])
        .execute()
    ).map(
      (row): LiveFilter => ({
        id: row.id,
        clientId: row.client_id,
        kind: row.kind,
        subscription: row.subscription,
        criteria: row.criteria as unknown as LogCriteria,
      }),
    )
    if (filters.length === 0) return
    const changes = new Map<LiveFilter, Omit<Insertable<RpcFilterChangesTable>, 'filter_id' | 'seq'>[]>()
    const add = (
      filter: LiveFilter,
      change: Omit<Insertable<RpcFilterChangesTable>, 'filter_id' | 'seq'>,
    ) => {
      const list = changes.get(filter)
      if (list) list.push(change)
      else changes.set(filter, [change])
    }
    const logFilters = filters.filter((f) => f.kind === 'logs')
    const blockFilters = filters.filter((f) => f.kind === 'blocks')
    for (const { block, receipts } of blocks) {
      const number = Number(block.number)
      const blockHash = hexToBytes(block.hash)
      if (blockFilters.length > 0) {
        const { transactions: _t, ...header } = block
        // Serialised once for all the filters that take it.
        const asHeader = JSON.stringify(header)
        const asHash = JSON.stringify(block.hash)
        for (const filter of blockFilters)
          add(filter, {
            block_hash: blockHash,
            block_number: number,
            payload: filter.subscription ? asHeader : asHash,
          })
      }
      if (logFilters.length === 0) continue
      const index = indexByAddress(
        logFilters.filter(
          (f) =>
            (f.criteria.fromBlock === undefined || f.criteria.fromBlock <= number) &&
            (f.criteria.toBlock === undefined || f.criteria.toBlock >= number),
        ),
      )
      for (const receipt of receipts)
        for (const log of receipt.logs) {
          // Only the filters of the log's emitter and those of any emitter are asked: the work
          // is in the logs and their matches, not in every filter times every log.
          const candidates = index.byAddress.get(log.address.toLowerCase())
          let payload: string | undefined
          for (const list of candidates ? [candidates, index.anyAddress] : [index.anyAddress])
            for (const filter of list) {
              if (!matchesLog(filter.criteria, log)) continue
              payload ??= JSON.stringify({ ...log, removed: false })
              add(filter, { block_hash: blockHash, block_number: number, payload })
            }
        }
    }
    await this.#append(trx, changes)
  }

  async blocksRemoved(trx: Transaction<DB>, blocks: readonly BlockRef[]): Promise<void> {
    if (blocks.length === 0) return
    const hashes = blocks.map((block) => hexToBytes(block.hash))
    const withdrawn = await trx
      .deleteFrom('rpc_filter_changes as c')
      .using('rpc_filters as f')
      .whereRef('f.id', '=', 'c.filter_id')
      .where('c.block_hash', 'in', hashes)
      .returning(['c.filter_id', 'c.seq', 'c.payload', 'f.read_seq', 'f.kind', 'f.client_id'])
      .execute()
    const notices = new Map<string, { filter: LiveFilter; rows: typeof withdrawn }>()
    for (const row of withdrawn) {
      // What was read of a log filter is taken back; block hashes have no removed form.
      if (row.kind !== 'logs' || Number(row.seq) > Number(row.read_seq)) continue
      const key = bytesToHex(row.filter_id)
      const entry = notices.get(key) ?? {
        filter: {
          id: row.filter_id,
          clientId: row.client_id,
          kind: 'logs',
          subscription: false,
          criteria: { addresses: [], topics: [] },
        },
        rows: [],
      }
      entry.rows.push(row)
      notices.set(key, entry)
    }
    const changes = new Map<LiveFilter, Omit<Insertable<RpcFilterChangesTable>, 'filter_id' | 'seq'>[]>()
    for (const { filter, rows } of notices.values()) {
      rows.sort((a, b) => Number(a.seq) - Number(b.seq))
      changes.set(
        filter,
        rows.map((row) => ({
          // A notice belongs to no block: it must outlive the block it speaks of.
          block_hash: null,
          block_number: null,
          payload: JSON.stringify({ ...(row.payload as object), removed: true }),
        })),
      )
    }
    await this.#append(trx, changes)
    if (withdrawn.length > 0)
      this.#log.debug({ withdrawn: withdrawn.length, filters: notices.size }, 'reorg withdrew filter changes')
  }

  committed(): void {
    if (this.#touched.size === 0) return
    const touched = [...this.#touched]
    this.#touched = new Set()
    this.#wake(touched)
  }

  /** Gives each filter's changes the next numbers of its sequence and stores them, in `trx`. */
  async #append(
    trx: Transaction<DB>,
    changes: Map<LiveFilter, Omit<Insertable<RpcFilterChangesTable>, 'filter_id' | 'seq'>[]>,
  ): Promise<void> {
    if (changes.size === 0) return
    const entries = [...changes]
    const rows: Insertable<RpcFilterChangesTable>[] = []
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK)
      const values = sql.join(
        chunk.map(([filter, list]) => sql`(${filter.id}::bytea, ${list.length}::bigint)`),
      )
      const allocated = await sql<{ id: Uint8Array; next_seq: number }>`
        update rpc_filters as f set next_seq = f.next_seq + v.n
        from (values ${values}) as v(id, n)
        where f.id = v.id
        returning f.id, f.next_seq`.execute(trx)
      const byId = new Map(chunk.map(([filter, list]) => [bytesToHex(filter.id), { filter, list }]))
      for (const row of allocated.rows) {
        const entry = byId.get(bytesToHex(row.id))!
        const first = Number(row.next_seq) - entry.list.length
        entry.list.forEach((change, offset) => {
          rows.push({ ...change, filter_id: row.id, seq: first + offset })
        })
        this.#touched.add(bytesToHex(entry.filter.clientId))
      }
    }
    for (let i = 0; i < rows.length; i += CHUNK)
      await trx
        .insertInto('rpc_filter_changes')
        .values(rows.slice(i, i + CHUNK))
        .execute()
  }

  /** Now and then: filters idle too long expire, and read changes of final blocks are forgotten. */
  async #housekeeping(trx: Transaction<DB>, head: number): Promise<void> {
    const now = Date.now()
    if (now - this.#housekeptAt < HOUSEKEEPING_MS) return
    this.#housekeptAt = now
    const expired = await trx
      .deleteFrom('rpc_filters')
      .where('last_used_at', '<', new Date(now - this.#idleMs))
      .executeTakeFirst()
    const position = await trx.selectFrom('leadership').select('finalized_number').executeTakeFirst()
    const final = position?.finalized_number ?? head - FALLBACK_RETAIN_BLOCKS
    await sql`
      delete from rpc_filter_changes c using rpc_filters f
      where f.id = c.filter_id and c.seq <= f.read_seq and c.block_number < ${final}`.execute(trx)
    if (Number(expired.numDeletedRows) > 0)
      this.#log.info({ expired: Number(expired.numDeletedRows) }, 'idle JSON-RPC filters expired')
  }
}
