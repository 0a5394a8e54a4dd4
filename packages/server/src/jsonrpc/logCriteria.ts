import type { Hex } from 'viem'
import { invalidParams } from './JsonRpcError.js'

/** What a log filter or a `logs` subscription selects, as geth takes it, normalised to lower case. */
export type LogCriteria = {
  /** Any of these emitters; empty: any emitter. */
  addresses: Hex[]
  /** Per position: any of these values, or null for any value. */
  topics: (Hex[] | null)[]
  /** Block numbers (inclusive) outside which nothing matches; tags are resolved when created. */
  fromBlock?: number
  toBlock?: number
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const TOPIC = /^0x[0-9a-fA-F]{64}$/
const MAX_ADDRESSES = 1_000
const MAX_TOPIC_VALUES = 1_000

/** Checks and normalises `{ address, topics }` (fromBlock/toBlock are the caller's). */
export function parseLogCriteria(raw: unknown): LogCriteria {
  if (raw === undefined || raw === null) return { addresses: [], topics: [] }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParams('the filter must be an object')
  const { address, topics } = raw as { address?: unknown; topics?: unknown }
  const addresses =
    address === undefined || address === null ? [] : Array.isArray(address) ? address : [address]
  if (addresses.length > MAX_ADDRESSES) throw invalidParams(`at most ${MAX_ADDRESSES} addresses`)
  for (const a of addresses)
    if (typeof a !== 'string' || !ADDRESS.test(a)) throw invalidParams(`invalid address: ${String(a)}`)
  if (topics !== undefined && topics !== null && !Array.isArray(topics))
    throw invalidParams('topics must be an array')
  const positions = (topics ?? []) as unknown[]
  if (positions.length > 4) throw invalidParams('at most 4 topic positions')
  let values = 0
  const parsed = positions.map((position) => {
    if (position === null) return null
    const list = Array.isArray(position) ? position : [position]
    values += list.length
    for (const t of list)
      if (typeof t !== 'string' || !TOPIC.test(t)) throw invalidParams(`invalid topic: ${String(t)}`)
    // An empty list at a position selects nothing in geth; null selects anything.
    return (list as string[]).map((t) => t.toLowerCase() as Hex)
  })
  if (values > MAX_TOPIC_VALUES) throw invalidParams(`at most ${MAX_TOPIC_VALUES} topic values`)
  return {
    addresses: (addresses as string[]).map((a) => a.toLowerCase() as Hex),
    topics: parsed,
  }
}

/** Whether a log is selected, with geth's rules (a topic position the log lacks does not match). */
export function matchesLog(
  criteria: LogCriteria,
  log: { address: string; topics: readonly string[] },
): boolean {
  if (criteria.addresses.length > 0 && !criteria.addresses.includes(log.address.toLowerCase() as Hex))
    return false
  if (criteria.topics.length > log.topics.length) return false
  for (let i = 0; i < criteria.topics.length; i++) {
    const wanted = criteria.topics[i]
    if (wanted === null || wanted === undefined) continue
    if (!wanted.includes(log.topics[i]!.toLowerCase() as Hex)) return false
  }
  return true
}
