import type { Kysely } from 'kysely'
import { bytesToHex, type Hex } from 'viem'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { DB } from '../storage/schema.js'
import { type CompiledFilter, compileFilter } from './compileFilter.js'

export type IndexedFilter = {
  filterId: number
  clientId: Hex
  clientContractId: number
  /** The interest's contract, lower-case. */
  address: Hex
  filter: CompiledFilter
}

export type Match = {
  clientId: Hex
  clientContractId: number
  address: Hex
  filterIds: number[]
  kind: 'tx' | 'log'
  blockIndex: number
  txIndex: number
  /** Index of the log within the block, for kind 'log'. */
  logIndex?: number
}

export type StoredInterest = {
  clientContractId: number
  clientId: Hex
  address: Hex
  filters: { id: number; code: string; args: unknown }[]
}

/**
 * Every client's filters, compiled and indexed by contract address, and for logs by address and
 * topic0. Matching a block looks up each transaction and each log once: the work is proportional
 * to the block's transactions, logs and candidate filters, not to the number of clients or filters
 * installed (docs/architecture.md, invariant 8).
 */
export class FilterIndex {
  readonly #tx = new Map<Hex, IndexedFilter[]>()
  readonly #log = new Map<Hex, Map<string, IndexedFilter[]>>()
  readonly #byInterest = new Map<number, IndexedFilter[]>()
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Loads every filter from the database (at start). */
  static async load(db: Kysely<DB>): Promise<FilterIndex> {
    const index = new FilterIndex()
    const rows = await db
      .selectFrom('client_tx_filters as f')
      .innerJoin('client_contracts as c', 'c.id', 'f.client_contract_id')
      .innerJoin('clients as k', 'k.id', 'f.client_id')
      .where('k.stage', '=', 'active')
      // An interest with a back-fill under way goes live when its back-fill hands it over (it is
      // resumed after a restart); one whose back-fill failed waits to be put again.
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('backfill_jobs as j')
              .select('j.id')
              .whereRef('j.client_contract_id', '=', 'c.id')
              .where('j.status', 'in', ['pending', 'running', 'failed']),
          ),
        ),
      )
      .select(['f.id', 'f.code', 'f.args', 'f.client_contract_id', 'c.client_id', 'c.address'])
      .orderBy('f.id')
      .execute()
    const interests = new Map<number, StoredInterest>()
    for (const row of rows) {
      let interest = interests.get(row.client_contract_id)
      if (!interest) {
        interest = {
          clientContractId: row.client_contract_id,
          clientId: bytesToHex(row.client_id),
          address: bytesToHex(row.address),
          filters: [],
        }
        interests.set(row.client_contract_id, interest)
      }
      interest.filters.push({ id: row.id, code: row.code, args: row.args })
    }
    for (const interest of interests.values()) index.setInterest(interest)
    return index
  }

  /** Installs (or replaces) the filters of one interest. */
  setInterest(interest: StoredInterest): void {
    this.removeInterest(interest.clientContractId)
    const entries = interest.filters.map((stored, i) => ({
      filterId: stored.id,
      clientId: interest.clientId,
      clientContractId: interest.clientContractId,
      address: interest.address.toLowerCase() as Hex,
      filter: compileFilter(stored.code, stored.args, i),
    }))
    this.#byInterest.set(interest.clientContractId, entries)
    for (const entry of entries) {
      if (entry.filter.matchesTransactions) push(this.#tx, entry.address, entry)
      if (entry.filter.logTopic0.length > 0) {
        const byTopic = this.#log.get(entry.address) ?? new Map<string, IndexedFilter[]>()
        this.#log.set(entry.address, byTopic)
        for (const topic0 of entry.filter.logTopic0) push(byTopic, topic0.toLowerCase(), entry)
      }
    }
    this.#size += entries.length
  }

  removeInterest(clientContractId: number): void {
    const entries = this.#byInterest.get(clientContractId)
    if (!entries) return
    this.#byInterest.delete(clientContractId)
    this.#size -= entries.length
    for (const entry of entries) {
      if (entry.filter.matchesTransactions) pull(this.#tx, entry.address, entry)
      const byTopic = this.#log.get(entry.address)
      if (!byTopic) continue
      for (const topic0 of entry.filter.logTopic0) pull(byTopic, topic0.toLowerCase(), entry)
      if (byTopic.size === 0) this.#log.delete(entry.address)
    }
  }

  /** Removes every interest of a client (pruned or dormant). */
  removeClient(clientId: Hex): void {
    for (const [id, entries] of this.#byInterest)
      if (entries[0]?.clientId === clientId) this.removeInterest(id)
  }

  /**
   * The matches of a batch of blocks, in chain order; several filters of one interest matching the
   * same transaction or log make one match naming all of them.
   */
  match(blocks: readonly FetchedBlock[], work?: Map<Hex, number>): Match[] {
    const matches: Match[] = []
    blocks.forEach(({ block, receipts }, blockIndex) => {
      let logIndexInBlock = 0
      block.transactions.forEach((tx, txIndex) => {
        const receipt = receipts[txIndex]!
        const target = (tx.to ?? receipt.contractAddress)?.toLowerCase() as Hex | undefined
        const candidates = target ? this.#tx.get(target) : undefined
        if (candidates)
          collect(
            matches,
            candidates,
            (f) => f.filter.matchTx(tx, receipt),
            { kind: 'tx', blockIndex, txIndex },
            work,
          )
        for (const log of receipt.logs) {
          const logIndex = log.logIndex === undefined ? logIndexInBlock : Number(log.logIndex)
          logIndexInBlock += 1
          const byTopic = this.#log.get(log.address.toLowerCase() as Hex)
          if (!byTopic) continue
          const topic0 = (log.topics[0] ?? '').toLowerCase()
          const exact = byTopic.get(topic0) ?? []
          const any = byTopic.get('*') ?? []
          const pool = exact.length === 0 ? any : any.length === 0 ? exact : [...exact, ...any]
          collect(
            matches,
            pool,
            (f) => f.filter.matchLog(log),
            { kind: 'log', blockIndex, txIndex, logIndex },
            work,
          )
        }
      })
    })
    return matches
  }
}

function push<K>(map: Map<K, IndexedFilter[]>, key: K, entry: IndexedFilter): void {
  const list = map.get(key)
  if (list) list.push(entry)
  else map.set(key, [entry])
}

function pull<K>(map: Map<K, IndexedFilter[]>, key: K, entry: IndexedFilter): void {
  const list = map.get(key)
  if (!list) return
  const i = list.indexOf(entry)
  if (i >= 0) list.splice(i, 1)
  if (list.length === 0) map.delete(key)
}

function collect(
  out: Match[],
  candidates: readonly IndexedFilter[],
  test: (filter: IndexedFilter) => boolean,
  where: Pick<Match, 'kind' | 'blockIndex' | 'txIndex' | 'logIndex'>,
  work: Map<Hex, number> | undefined,
): void {
  let byInterest: Map<number, Match> | undefined
  for (const candidate of candidates) {
    if (work) work.set(candidate.clientId, (work.get(candidate.clientId) ?? 0) + candidate.filter.cost)
    if (!test(candidate)) continue
    byInterest ??= new Map()
    const existing = byInterest.get(candidate.clientContractId)
    if (existing) {
      existing.filterIds.push(candidate.filterId)
      continue
    }
    const match: Match = {
      clientId: candidate.clientId,
      clientContractId: candidate.clientContractId,
      address: candidate.address,
      filterIds: [candidate.filterId],
      ...where,
    }
    byInterest.set(candidate.clientContractId, match)
    out.push(match)
  }
}
