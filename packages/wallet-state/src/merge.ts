import { canonicalize } from './canonicalize.js'
import { applyEvents, validatedHashes } from './container.js'
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
 *    events into its S has no events left to replay for them; then that S is the base, and the
 *    other side's events are kept only where their stamp (the latest in their branch up to them)
 *    beats what S holds, tombstones included, so an old branch cannot resurrect a deleted item.
 * 4. The two branches are merged by (timestampSeconds, eventId) without reordering either
 *    branch's own events; an event both branches hold is placed once.
 * 5. The schema's merge strategies de-duplicate what both branches did on their own: the same
 *    change to the same item (two "new credential X", two "delete keypair K", …) is kept once, the
 *    one first in the merged order; settings changes are all kept, so the latest wins.
 * 6. The rest is re-chained onto the base (older schema versions are raised to the newest one in
 *    the merged run, so versions never decrease along the log).
 */
export function mergeContainers(
  a: WalletStateContainer,
  b: WalletStateContainer,
  options: { supported?: number } = {},
): WalletStateContainer {
  const { supported } = options
  const hashesA = validatedHashes(a, supported)
  const hashesB = validatedHashes(b, supported)
  if (a.lastEventHash === b.lastEventHash) return preferred(a, b)

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
  // The sides whose events must beat the stamps in `base` to be kept: those whose S is not the base.
  let checkA = false
  let checkB = false
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
    checkB = true
  } else if (!sideA.foldedPast && sideB.foldedPast) {
    base = b.S
    checkA = true
  } else {
    base = mergeStates(a.S, b.S, [...hashesA, ...hashesB, a.lastEventHash, b.lastEventHash])
    checkA = true
    checkB = true
  }

  // The order comes first, from the branches as they are: dropping an event below must not let a
  // later event of its device move ahead of what the other device did in between.
  const inA = new Set(sideA.suffix.map((event) => event.eventId))
  const shared = new Set(sideB.suffix.map((event) => event.eventId).filter((id) => inA.has(id)))
  const order = interleave(sideA.suffix, sideB.suffix)
  const dropped = new Set<string>()
  if (checkA) dropSuperseded(sideA, base, shared, dropped)
  if (checkB) dropSuperseded(sideB, base, shared, dropped)
  dropRepeats(sideA.suffix, sideB.suffix, shared, dropped, order)

  let parent = prefix.length > 0 ? ancestor : base.fold.tipHash
  let version = base.schemaVersion
  for (const event of prefix) version = Math.max(version, event.schemaVersion)
  const events: WalletEvent[] = [...prefix]
  for (const event of order) {
    if (dropped.has(event.eventId)) continue
    version = Math.max(version, event.schemaVersion)
    const operations = operationsFor(version, supported)
    const rechained = operations.reparent(event, parent)
    events.push(rechained)
    parent = operations.hashEvent(rechained)
  }
  return { S: base, events, lastEventHash: parent }
}

/**
 * Drops the events of a branch that lose to what `base` holds about their item (a tombstone
 * included), the base having folded concurrent events that can no longer be ordered against them.
 * What the branch's device had already seen of the item is no competitor: a change on top of it
 * stays whatever the clocks say. Against a concurrent change, an event is judged by the latest
 * stamp in its branch up to it, so the branch's own order stands (a same-second delete and
 * re-create are judged alike). Events both branches hold come after both bases and stay.
 */
function dropSuperseded(branch: Side, base: WalletState, shared: Set<string>, dropped: Set<string>) {
  const seen = new Map<string, Stamp | undefined>()
  let latest: Stamp | undefined
  for (const event of branch.suffix) {
    const operations = operationsFor(event.schemaVersion)
    const stamp = stampOf(event)
    if (latest === undefined || compareStamps(stamp, latest) > 0) latest = stamp
    const subject = operations.subject(event)
    if (!shared.has(event.eventId)) {
      const known = seen.has(subject) ? seen.get(subject) : operations.heldStamp(branch.seen(), event)
      const held = operations.heldStamp(base, event)
      const onTopOfWhatItSaw = held === undefined || (known !== undefined && compareStamps(known, held) === 0)
      if (!onTopOfWhatItSaw && !operations.wins(base, event, latest)) dropped.add(event.eventId)
    }
    seen.set(subject, stamp)
  }
}

type Side = {
  /** The branch: this side's events after the divergence point. */
  suffix: WalletEvent[]
  /** Whether this side folded events after the divergence point into its S. */
  foldedPast: boolean
  /** This side's state at the start of its branch: what its device had seen before it. */
  seen: () => WalletState
}

function side(container: WalletStateContainer, hashes: string[], ancestor: string): Side {
  const index = hashes.indexOf(ancestor)
  let state: WalletState | undefined
  const seen = (upTo: number) => () => {
    state ??= applyEvents(container.S, container.events.slice(0, upTo))
    return state
  }
  if (index >= 0)
    return { suffix: container.events.slice(index + 1), foldedPast: false, seen: seen(index + 1) }
  return { suffix: container.events, foldedPast: ancestor !== container.S.fold.tipHash, seen: seen(0) }
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
  const absorbedSet = new Set(absorbed)
  const earlier = [...new Set([...a.fold.recent, ...b.fold.recent])]
    .filter((hash) => !absorbedSet.has(hash))
    .sort()
  const tipHash = hashTips(a.fold.tipHash, b.fold.tipHash)
  const keep = RECENT_HASHES - 1 - absorbedSet.size
  result.fold = {
    tipHash,
    count: Math.max(a.fold.count, b.fold.count),
    recent: [...(keep > 0 ? earlier.slice(-keep) : []), ...[...absorbedSet].sort(), tipHash],
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
 * The schema's merge strategies: a change made in one branch is dropped when the other branch,
 * on its own, made the same change to the same item later in the merged order (two "new
 * credential X", two "delete keypair K", …) and that later change is kept — the last one stands.
 * The merged state is what replaying every event would give, without the repeats. Only changes
 * made in one branch take part: an event both branches hold is no conflict, and a device repeating
 * itself meant it. A device merging again with an event dropped this way meets the kept later
 * change again, so the drop is stable.
 */
function dropRepeats(
  a: WalletEvent[],
  b: WalletEvent[],
  shared: Set<string>,
  dropped: Set<string>,
  order: WalletEvent[],
) {
  const inA = new Set(a.map((event) => event.eventId))
  const inB = new Set(b.map((event) => event.eventId))
  // "<type>|<item>" → that change's events made in one branch only, latest first.
  const changes = new Map<string, WalletEvent[]>()
  for (let i = order.length - 1; i >= 0; i--) {
    const event = order[i]!
    if (shared.has(event.eventId) || dropped.has(event.eventId)) continue
    const key = `${event.type}|${operationsFor(event.schemaVersion).subject(event)}`
    const list = changes.get(key)
    if (list) list.push(event)
    else changes.set(key, [event])
  }
  for (const events of changes.values()) {
    if (!events.some((event) => inA.has(event.eventId)) || !events.some((event) => inB.has(event.eventId)))
      continue
    // The latest kept change of each branch, walking back from the end.
    let keptA: WalletEvent | undefined
    let keptB: WalletEvent | undefined
    for (const event of events) {
      const fromA = inA.has(event.eventId)
      const later = fromA ? keptB : keptA
      // The newer version of the two holds the rules of both.
      const operations = later && operationsFor(Math.max(event.schemaVersion, later.schemaVersion))
      if (later && operations!.mergeStrategies[event.type]!(event, later)) {
        dropped.add(event.eventId)
      } else if (fromA) {
        keptA ??= event
      } else {
        keptB ??= event
      }
    }
  }
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
