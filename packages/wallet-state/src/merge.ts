import { canonicalize } from './canonicalize.js'
import { eventHashes, validateContainer } from './container.js'
import { NoCommonAncestorError } from './errors.js'
import { compareStamps, stampOf } from './schema/createOperations.js'
import { operationsFor } from './schema/versions.js'
import type { Stamp, WalletEvent, WalletState, WalletStateContainer } from './types.js'

const RECENT_HASHES = 512

/**
 * Merges two versions of one wallet state (DESIGN §7), deterministically and symmetrically:
 * `mergeContainers(a, b)` and `mergeContainers(b, a)` are equal byte for byte.
 *
 * 1. The divergence point is the newest event hash both histories know — among their events, or
 *    among the hashes of events they folded into S.
 * 2. If one side already contains the other, it is the result (fast-forward).
 * 3. The shared history up to the divergence point is kept as it is. A side that folded concurrent
 *    events into its S has no events left to replay for them; then that S is the base, and the other side's
 *    events are kept only where their stamp beats what S holds (tombstones included), so an old
 *    branch cannot resurrect a deleted item.
 * 4. Events in both branches once (same eventId) are kept once; an event kind with the same subject
 *    in both branches (two "new credential X", two "delete keypair K", …) is kept from the branch
 *    that did it first.
 * 5. The two branches are merged by (timestampSeconds, eventId) without reordering either
 *    branch's own events, then re-chained onto the base (older schema versions are raised to the
 *    newest one in the merged run, so versions never decrease along the log).
 */
export function mergeContainers(
  a: WalletStateContainer,
  b: WalletStateContainer,
  options: { supported?: number } = {},
): WalletStateContainer {
  const { supported } = options
  validateContainer(a, supported)
  validateContainer(b, supported)
  if (a.lastEventHash === b.lastEventHash) return preferred(a, b)

  const hashesA = eventHashes(a, supported)
  const hashesB = eventHashes(b, supported)
  const historyA = [...a.S.fold.recent, ...hashesA]
  const historyB = [...b.S.fold.recent, ...hashesB]
  const positionB = new Map(historyB.map((hash, i) => [hash, i]))
  // One side containing the other is a fast-forward, whichever order they come in.
  if (positionB.has(a.lastEventHash)) return b
  if (historyA.includes(b.lastEventHash)) return a
  // The divergence point: the common hash latest in both histories (position sum, then the hash
  // itself), a choice that does not depend on which container is `a`.
  let ancestor: string | undefined
  let best = -1
  historyA.forEach((hash, i) => {
    const j = positionB.get(hash)
    if (j === undefined) return
    if (i + j > best || (i + j === best && ancestor !== undefined && hash > ancestor)) {
      best = i + j
      ancestor = hash
    }
  })
  if (ancestor === undefined) throw new NoCommonAncestorError(a, b)

  const sideA = side(a, hashesA, ancestor)
  const sideB = side(b, hashesB, ancestor)
  let base: WalletState
  let prefix: WalletEvent[] = []
  let suffixA = sideA.suffix
  let suffixB = sideB.suffix
  if (!sideA.foldedPast && !sideB.foldedPast) {
    // The shared history stays as it is: the S of the side that folded less, and its events up to
    // the divergence point, unchanged (their hashes are what both devices know).
    const keepA =
      a.S.fold.count !== b.S.fold.count
        ? a.S.fold.count < b.S.fold.count
        : canonicalize(a.S) <= canonicalize(b.S)
    const [keeper, keeperHashes] = keepA ? [a, hashesA] : [b, hashesB]
    base = keeper.S
    prefix = keeper.events.slice(0, keeperHashes.indexOf(ancestor) + 1)
  } else if (sideA.foldedPast && !sideB.foldedPast) {
    base = a.S
    suffixB = suffixB.filter((event) => operationsFor(event.schemaVersion).wins(base, event))
  } else if (!sideA.foldedPast && sideB.foldedPast) {
    base = b.S
    suffixA = suffixA.filter((event) => operationsFor(event.schemaVersion).wins(base, event))
  } else {
    base = mergeStates(a.S, b.S, [...hashesA, ...hashesB, a.lastEventHash, b.lastEventHash])
    suffixA = suffixA.filter((event) => operationsFor(event.schemaVersion).wins(base, event))
    suffixB = suffixB.filter((event) => operationsFor(event.schemaVersion).wins(base, event))
  }

  ;[suffixA, suffixB] = dropDuplicates(suffixA, suffixB)
  const merged = interleave(suffixA, suffixB)
  let parent = prefix.length > 0 ? ancestor : base.fold.tipHash
  let version = Math.max(base.schemaVersion, ...prefix.map((event) => event.schemaVersion))
  const events: WalletEvent[] = [...prefix]
  for (const event of merged) {
    version = Math.max(version, event.schemaVersion)
    const rechained: WalletEvent = { ...event, schemaVersion: version, parentHash: parent }
    events.push(rechained)
    parent = operationsFor(version, supported).hashEvent(rechained)
  }
  return { S: base, events, lastEventHash: parent }
}

function side(container: WalletStateContainer, hashes: string[], ancestor: string) {
  const index = hashes.indexOf(ancestor)
  if (index >= 0) return { suffix: container.events.slice(index + 1), foldedPast: false }
  return { suffix: container.events, foldedPast: ancestor !== container.S.fold.tipHash }
}

/** Two bases that both folded concurrent events: per item, the newer stamp wins (a tombstone is an item). */
function mergeStates(a: WalletState, b: WalletState, absorbed: string[]): WalletState {
  const newer = (x: Stamp | null | undefined, y: Stamp | null | undefined) =>
    !y || (x && compareStamps(x, y) >= 0) ? 'a' : 'b'
  const result: WalletState = {
    ...a,
    schemaVersion: Math.max(a.schemaVersion, b.schemaVersion),
    settings: newer(a.settings.stamp, b.settings.stamp) === 'a' ? a.settings : b.settings,
    tombstones: {},
  }
  const collections = [
    'credentials',
    'keypairs',
    'presentations',
    'credentialIssuanceSessions',
    'contractInterests',
    'addressBook',
  ] as const
  for (const collection of collections) {
    const merged: Record<string, { value: Record<string, unknown>; stamp: Stamp }> = {}
    const ids = new Set([...Object.keys(a[collection] ?? {}), ...Object.keys(b[collection] ?? {})])
    for (const id of ids) {
      const key = `${collection}:${id}`
      const candidates = [a[collection]?.[id], b[collection]?.[id]].filter((x) => x !== undefined)
      const best = candidates.sort((x, y) => compareStamps(y.stamp, x.stamp))[0]!
      const tomb = [a.tombstones[key], b.tombstones[key]]
        .filter((x) => x !== undefined)
        .sort((x, y) => compareStamps(y, x))[0]
      if (!tomb || compareStamps(best.stamp, tomb) > 0) merged[id] = best
    }
    result[collection] = merged
  }
  for (const [key, stamp] of [...Object.entries(a.tombstones), ...Object.entries(b.tombstones)]) {
    const [collection, ...rest] = key.split(':')
    const alive = result[collection as (typeof collections)[number]]?.[rest.join(':')]
    const current = result.tombstones[key]
    if (alive && compareStamps(alive.stamp, stamp) > 0) continue
    if (!current || compareStamps(stamp, current) > 0) result.tombstones[key] = stamp
  }
  // The merged base stands for both histories: it remembers every hash either side had, so that
  // merging either input again is recognised as a fast-forward instead of merging anew.
  const earlier = [...new Set([...a.fold.recent, ...b.fold.recent])]
    .filter((hash) => !absorbed.includes(hash))
    .sort()
  const tipHash = hashTips(a.fold.tipHash, b.fold.tipHash)
  const keep = RECENT_HASHES - 1 - absorbed.length
  result.fold = {
    tipHash,
    count: Math.max(a.fold.count, b.fold.count),
    recent: [...(keep > 0 ? earlier.slice(-keep) : []), ...[...new Set(absorbed)].sort(), tipHash],
  }
  return result
}

function hashTips(x: string, y: string): string {
  return operationsFor(1).hashEvent({
    schemaVersion: 1,
    eventId: 'merged-fold',
    parentHash: [x, y].sort().join(':'),
    timestampSeconds: 0,
    type: 'merged_fold',
    payload: {},
  })
}

/**
 * Same event in both branches (same eventId): kept once. Same kind and subject done independently
 * in both branches: kept from the branch that did it first. Events both branches share are not a
 * conflict and take no part in the second rule.
 */
function dropDuplicates(a: WalletEvent[], b: WalletEvent[]): [WalletEvent[], WalletEvent[]] {
  const inA = new Map(a.map((event) => [event.eventId, event]))
  const inB = new Map(b.map((event) => [event.eventId, event]))
  const shared = new Set([...inA.keys()].filter((id) => inB.has(id)))

  const intent = (event: WalletEvent) => {
    const operations = operationsFor(event.schemaVersion)
    return operations.rules[event.type]?.kind === 'settings'
      ? undefined
      : `${event.type}|${operations.subject(event)}`
  }
  const first = (events: WalletEvent[]) => {
    const seen = new Map<string, Stamp>()
    for (const event of events) {
      if (shared.has(event.eventId)) continue
      const key = intent(event)
      if (key && !seen.has(key)) seen.set(key, stampOf(event))
    }
    return seen
  }
  const firstA = first(a)
  const firstB = first(b)
  const dropFromA = new Set<string>()
  const dropFromB = new Set<string>()
  for (const [key, stampA] of firstA) {
    const stampB = firstB.get(key)
    if (!stampB) continue
    if (compareStamps(stampA, stampB) <= 0) dropFromB.add(key)
    else dropFromA.add(key)
  }
  const conflicting = (drop: Set<string>) => (event: WalletEvent) =>
    !shared.has(event.eventId) && drop.has(intent(event) ?? '')
  // Events both branches hold stay in both: the interleave makes them one, under both orders.
  return [
    a.filter((event) => !conflicting(dropFromA)(event)),
    b.filter((event) => !conflicting(dropFromB)(event)),
  ]
}

/**
 * Merges two branches by (timestampSeconds, eventId) while keeping each branch's own order: a
 * topological order of both sequences (an event shared by both is one node, constrained by both),
 * taking the smallest stamp among the events whose predecessors are out. Of a shared event, the
 * copy with the newer schema version (then the smaller parent hash) is kept — the same whichever
 * branch is `a`.
 */
function interleave(a: WalletEvent[], b: WalletEvent[]): WalletEvent[] {
  const nodes = new Map<string, WalletEvent>()
  const successors = new Map<string, string[]>()
  const waiting = new Map<string, number>()
  for (const sequence of [a, b]) {
    sequence.forEach((event, i) => {
      const held = nodes.get(event.eventId)
      if (!held) {
        nodes.set(event.eventId, event)
        successors.set(event.eventId, [])
        waiting.set(event.eventId, 0)
      } else if (
        event.schemaVersion > held.schemaVersion ||
        (event.schemaVersion === held.schemaVersion && event.parentHash < held.parentHash)
      ) {
        nodes.set(event.eventId, event)
      }
      if (i > 0) {
        successors.get(sequence[i - 1]!.eventId)!.push(event.eventId)
        waiting.set(event.eventId, waiting.get(event.eventId)! + 1)
      }
    })
  }
  const ready = new StampHeap()
  for (const [id, count] of waiting) if (count === 0) ready.push(nodes.get(id)!)
  const out: WalletEvent[] = []
  while (ready.size > 0) {
    const event = ready.pop()
    out.push(event)
    for (const next of successors.get(event.eventId)!) {
      const left = waiting.get(next)! - 1
      waiting.set(next, left)
      if (left === 0) ready.push(nodes.get(next)!)
    }
  }
  if (out.length < nodes.size) {
    // The branches order some shared events differently (only a corrupted history can): the rest
    // goes by stamp alone, still deterministically.
    const placed = new Set(out.map((event) => event.eventId))
    const rest = [...nodes.values()].filter((event) => !placed.has(event.eventId))
    rest.sort((x, y) => compareStamps(stampOf(x), stampOf(y)))
    out.push(...rest)
  }
  return out
}

/** A binary min-heap of events by stamp. */
class StampHeap {
  readonly #items: WalletEvent[] = []
  get size(): number {
    return this.#items.length
  }
  push(event: WalletEvent): void {
    const items = this.#items
    items.push(event)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (compareStamps(stampOf(items[parent]!), stampOf(items[i]!)) <= 0) break
      ;[items[parent], items[i]] = [items[i]!, items[parent]!]
      i = parent
    }
  }
  pop(): WalletEvent {
    const items = this.#items
    const top = items[0]!
    const last = items.pop()!
    if (items.length > 0) {
      items[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < items.length && compareStamps(stampOf(items[left]!), stampOf(items[smallest]!)) < 0)
          smallest = left
        if (right < items.length && compareStamps(stampOf(items[right]!), stampOf(items[smallest]!)) < 0)
          smallest = right
        if (smallest === i) break
        ;[items[smallest], items[i]] = [items[i]!, items[smallest]!]
        i = smallest
      }
    }
    return top
  }
}

/** Equal heads: the one that folded more, else the canonically smaller one. */
function preferred(a: WalletStateContainer, b: WalletStateContainer): WalletStateContainer {
  if (a.S.fold.count !== b.S.fold.count) return a.S.fold.count > b.S.fold.count ? a : b
  return canonicalize(a) <= canonicalize(b) ? a : b
}
