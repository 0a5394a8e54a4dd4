import { canonicalize } from './canonicalize.js'
import { sha256Hex } from './hash.js'
import { compareStamps } from './schema/createOperations.js'
import { operationsFor } from './schema/versions.js'
import type { Collection, LwwFoldInfo, Stamp, Stamped, WalletState } from './types.js'

/** Fold format 2: see LwwFoldInfo. Frozen: containers on disk depend on it. */
export const LWW_FOLD_FORMAT = 2

type Entry = { item?: Stamped<Record<string, unknown>>; tomb?: Stamp }

const stampOfEntry = (entry: Entry): Stamp => (entry.item ? entry.item.stamp : entry.tomb!)

const ALL_COLLECTIONS: readonly Collection[] = [
  'credentials',
  'keypairs',
  'presentations',
  'credentialIssuanceSessions',
  'contractInterests',
  'addressBook',
]

/**
 * Of two holders of one item, the one with the newer stamp; at an equal stamp (which only fold
 * format 1's stamps, lacking the content hash, can have) a deletion, then the smaller value — so
 * the choice never depends on which side is which.
 */
function newer(x: Entry, y: Entry): Entry {
  const order = compareStamps(stampOfEntry(x), stampOfEntry(y))
  if (order !== 0) return order > 0 ? x : y
  if (x.tomb || y.tomb) return x.tomb ? x : y
  return canonicalize(x.item!.value) <= canonicalize(y.item!.value) ? x : y
}

function greater(x: Stamp | null | undefined, y: Stamp | null | undefined): Stamp | null {
  if (!x) return y ?? null
  if (!y) return x
  return compareStamps(x, y) >= 0 ? x : y
}

/** The greatest stamp a state holds (items, tombstones, settings): a format-1 state's watermark. */
export function greatestStamp(state: WalletState): Stamp | null {
  let max: Stamp | null = state.settings.stamp ?? null
  for (const collection of ALL_COLLECTIONS) {
    for (const item of Object.values(state[collection] ?? {})) max = greater(max, item.stamp)
  }
  for (const stamp of Object.values(state.tombstones)) max = greater(max, stamp)
  return max
}

/**
 * The last-writer-wins join of two states: per item (a deletion being an item's tombstone) and
 * for the settings, the newer stamp wins. Commutative, associative and idempotent — a
 * join-semilattice — so merging in any order gives one state. Keys come out sorted, so equal
 * states are equal bytes. The fold info is left to the caller.
 */
export function joinStates(states: readonly WalletState[], fold: LwwFoldInfo): WalletState {
  if (states.length === 1 && states[0]!.fold.format === LWW_FOLD_FORMAT) return sortedState(states[0]!, fold)
  const schemaVersion = Math.max(...states.map((state) => state.schemaVersion))
  let settings = states[0]!.settings
  for (const state of states.slice(1)) {
    const s = state.settings
    if (!settings.stamp || (s.stamp && compareStamps(s.stamp, settings.stamp) > 0)) settings = s
    else if (
      s.stamp &&
      compareStamps(s.stamp, settings.stamp) === 0 &&
      canonicalize(s.values) < canonicalize(settings.values)
    )
      settings = s
  }
  const result: WalletState = {
    schemaVersion,
    credentials: {},
    keypairs: {},
    presentations: {},
    credentialIssuanceSessions: {},
    settings,
    tombstones: {},
    fold,
  }
  const collections = new Set<Collection>(operationsFor(schemaVersion).collections)
  for (const state of states) for (const c of ALL_COLLECTIONS) if (state[c]) collections.add(c)
  const entries = new Map<string, Entry>()
  const offer = (key: string, entry: Entry) => {
    const held = entries.get(key)
    entries.set(key, held ? newer(held, entry) : entry)
  }
  for (const state of states) {
    for (const collection of collections) {
      for (const [id, item] of Object.entries(state[collection] ?? {})) offer(`${collection}:${id}`, { item })
    }
    for (const [key, tomb] of Object.entries(state.tombstones)) offer(key, { tomb })
  }
  for (const collection of collections) result[collection] = {}
  for (const key of [...entries.keys()].sort()) {
    const entry = entries.get(key)!
    if (entry.tomb) {
      result.tombstones[key] = entry.tomb
      continue
    }
    const split = key.indexOf(':')
    const collection = key.slice(0, split) as Collection
    result[collection]![key.slice(split + 1)] = entry.item!
  }
  return result
}

/**
 * The tip of a format-2 state: a hash of everything it holds. A stamp with its content hash names
 * the event that wrote the value, so only the stamps are hashed; a format-1 stamp, without one,
 * brings its value along.
 */
export function stateDigest(state: WalletState): string {
  const fold = state.fold as LwwFoldInfo
  const parts: unknown[] = [
    'wallet-state-fold',
    fold.format,
    fold.wallet,
    fold.watermark,
    state.schemaVersion,
    withValue(state.settings.stamp, state.settings.values),
  ]
  for (const collection of ALL_COLLECTIONS) {
    const items = state[collection]
    if (!items) continue
    parts.push(collection)
    for (const id of Object.keys(items).sort()) parts.push(id, withValue(items[id]!.stamp, items[id]!.value))
  }
  parts.push('tombstones')
  for (const key of Object.keys(state.tombstones).sort()) parts.push(key, state.tombstones[key])
  return sha256Hex(JSON.stringify(parts))
}

function withValue(stamp: Stamp | null, value: unknown): unknown {
  if (stamp === null || stamp[2] !== undefined) return stamp
  return [stamp, canonicalize(value)]
}

/**
 * A format-2 state (an item held as a value or a tombstone, never both — the reducer keeps it so)
 * with its keys in order: the join of one state, without comparing anything.
 */
function sortedState(state: WalletState, fold: LwwFoldInfo): WalletState {
  const sorted = <T>(record: Record<string, T>): Record<string, T> => {
    const out: Record<string, T> = {}
    for (const key of Object.keys(record).sort()) out[key] = record[key]!
    return out
  }
  const result: WalletState = {
    ...state,
    settings: state.settings,
    tombstones: sorted(state.tombstones),
    fold,
  }
  const collections = new Set<Collection>(operationsFor(state.schemaVersion).collections)
  for (const c of ALL_COLLECTIONS) if (state[c]) collections.add(c)
  for (const collection of collections) result[collection] = sorted(state[collection] ?? {})
  return result
}
