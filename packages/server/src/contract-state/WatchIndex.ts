import type { Kysely } from 'kysely'
import { bytesToHex, type Hex } from 'viem'
import type { DB } from '../storage/schema.js'
import { type CompiledWatch, compileWatch } from './compileWatch.js'

/** One client's watch of one value. */
export type Watcher = {
  watchId: number
  clientId: Hex
  clientContractId: number
  kind: string
  args: unknown[]
  /** The interest's ABI, to decode view-call results with. */
  abi: unknown[] | null
}

/** The watches of one interest, as stored. */
export type WatchedInterest = {
  clientContractId: number
  clientId: Hex
  address: Hex
  abi: unknown[] | null
  watches: { id: number; kind: string; args: unknown[] }[]
}

type WatchedValue = { watch: CompiledWatch; watchers: Watcher[] }

/**
 * Every watched value of every contract, in memory: contract → value key → the clients watching it.
 * The state watcher reads each key once per block from it, whatever the number of watchers.
 */
export class WatchIndex {
  readonly #byAddress = new Map<Hex, Map<string, WatchedValue>>()
  readonly #byInterest = new Map<number, { address: Hex; clientId: Hex; keys: string[] }>()

  /** The watches of active clients, as stored. */
  static async load(db: Kysely<DB>): Promise<WatchIndex> {
    const index = new WatchIndex()
    for (const interest of await loadWatchedInterests(db)) index.setInterest(interest)
    return index
  }

  get size(): number {
    return this.#byInterest.size
  }

  /** Installs (or replaces) the watches of one interest; returns the watchers it added. */
  setInterest(interest: WatchedInterest): Watcher[] {
    this.removeInterest(interest.clientContractId)
    if (interest.watches.length === 0) return []
    const address = interest.address.toLowerCase() as Hex
    const values = this.#byAddress.get(address) ?? new Map<string, WatchedValue>()
    this.#byAddress.set(address, values)
    const added: Watcher[] = []
    const keys: string[] = []
    for (const [i, stored] of interest.watches.entries()) {
      const watch = compileWatch(stored.kind, stored.args, i)
      const watcher: Watcher = {
        watchId: stored.id,
        clientId: interest.clientId,
        clientContractId: interest.clientContractId,
        kind: stored.kind,
        args: stored.args,
        abi: interest.abi,
      }
      const value = values.get(watch.key) ?? { watch, watchers: [] }
      value.watchers.push(watcher)
      values.set(watch.key, value)
      keys.push(watch.key)
      added.push(watcher)
    }
    this.#byInterest.set(interest.clientContractId, { address, clientId: interest.clientId, keys })
    return added
  }

  removeInterest(clientContractId: number): void {
    const entry = this.#byInterest.get(clientContractId)
    if (!entry) return
    this.#byInterest.delete(clientContractId)
    const values = this.#byAddress.get(entry.address)
    if (!values) return
    for (const key of entry.keys) {
      const value = values.get(key)
      if (!value) continue
      value.watchers = value.watchers.filter((w) => w.clientContractId !== clientContractId)
      if (value.watchers.length === 0) values.delete(key)
    }
    if (values.size === 0) this.#byAddress.delete(entry.address)
  }

  /** A client that went dormant or was pruned stops being watched for. */
  removeClient(clientId: Hex): void {
    for (const [id, entry] of this.#byInterest) if (entry.clientId === clientId) this.removeInterest(id)
  }

  addresses(): Hex[] {
    return [...this.#byAddress.keys()]
  }

  /** The watched values of one contract, by key. */
  valuesOf(address: Hex): ReadonlyMap<string, WatchedValue> {
    return this.#byAddress.get(address) ?? new Map()
  }
}

/** The stored watches of active clients (or of one client), by interest. */
export async function loadWatchedInterests(
  db: Kysely<DB>,
  clientId?: Uint8Array,
): Promise<WatchedInterest[]> {
  let query = db
    .selectFrom('client_state_watches as w')
    .innerJoin('client_contracts as i', 'i.id', 'w.client_contract_id')
    .innerJoin('clients as c', 'c.id', 'w.client_id')
    .select(['w.id', 'w.kind', 'w.args', 'i.id as interest', 'i.address', 'i.abi', 'w.client_id'])
    .where('c.stage', '=', 'active')
    .orderBy('w.id')
  if (clientId) query = query.where('w.client_id', '=', clientId)
  const interests = new Map<number, WatchedInterest>()
  for (const row of await query.execute()) {
    const interest = interests.get(row.interest) ?? {
      clientContractId: row.interest,
      clientId: bytesToHex(row.client_id),
      address: bytesToHex(row.address),
      abi: (row.abi as unknown[] | null) ?? null,
      watches: [],
    }
    interest.watches.push({ id: row.id, kind: row.kind, args: row.args as unknown[] })
    interests.set(row.interest, interest)
  }
  return [...interests.values()]
}
