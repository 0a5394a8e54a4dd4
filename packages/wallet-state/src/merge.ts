import { canonicalize } from './canonicalize.js'
import { applyEvents, validationSteps } from './container.js'
import { NoCommonAncestorError } from './errors.js'
import { chainLink, compareEvents, compareEventToStamp, linkOf, rechained } from './eventHash.js'
import { greatestStamp, joinStates, LWW_FOLD_FORMAT, stateDigest } from './lww.js'
import { compareStamps } from './schema/createOperations.js'
import { operationsFor } from './schema/versions.js'
import type { LwwFoldInfo, Stamp, WalletEvent, WalletState, WalletStateContainer } from './types.js'

export type MergeOptions = {
  supported?: number
  /**
   * Merge even though `b` belongs to another wallet, taking `a`'s identity: for a device whose own
   * history was never stored, which joins the stored one with its edits and their own stamps.
   */
  adopt?: boolean
}

/**
 * Merges two versions of one wallet state. The result depends only on what the two hold — the
 * join of their base states and the union of their events — never on the order of the arguments
 * or of earlier merges, so every device merging the same histories ends with the same bytes:
 *
 * 1. The watermark W is the greater of the two; the base state S is the last-writer-wins join of
 *    both bases with every event either side holds stamped at or below W folded in (so an event
 *    folded on one device can never be overridden by an older one from another).
 * 2. The log is the union of both sides' events above W — one event being one content, whatever
 *    its eventId — sorted by stamp and re-chained onto S's tip, which is a hash of S.
 *
 * Containers of fold format 1 (earlier builds) are read as a format-2 base with W at the greatest
 * stamp their S holds; the result is always format 2.
 */
export function mergeContainers(
  a: WalletStateContainer,
  b: WalletStateContainer,
  options: MergeOptions = {},
): WalletStateContainer {
  return runToEnd(mergeSteps(a, b, options))
}

/**
 * mergeContainers in slices that give the event loop back every few milliseconds, for merging
 * long histories in an app (or a server) that must stay responsive.
 */
export async function mergeContainersAsync(
  a: WalletStateContainer,
  b: WalletStateContainer,
  options: MergeOptions & { sliceMs?: number } = {},
): Promise<WalletStateContainer> {
  return runInSlices(mergeSteps(a, b, options), options.sliceMs ?? 8)
}

/** The container in canonical form: what merging it with itself gives (events sorted, S joined). */
export function normalizeContainer(
  container: WalletStateContainer,
  supported?: number,
): WalletStateContainer {
  const { S, events } = runToEnd(collectSteps(container, supported))
  return runToEnd(chainOnto(S, events, supported))
}

/** The container's base state and its events above the watermark, sorted, one copy each. */
export function* collectSteps(container: WalletStateContainer, supported?: number) {
  yield* validationSteps(container, supported)
  const side = toLww(container)
  return yield* collect([side], side.wallet, supported)
}

function* mergeSteps(
  a: WalletStateContainer,
  b: WalletStateContainer,
  options: MergeOptions,
): Generator<void, WalletStateContainer> {
  const { supported } = options
  yield* validationSteps(a, supported)
  yield* validationSteps(b, supported)
  if (a.lastEventHash === b.lastEventHash && a.S.fold.format === b.S.fold.format) {
    if (a.S.fold.format !== LWW_FOLD_FORMAT) return preferred(a, b)
    // One history: the result is its canonical form (appended events may be out of stamp order).
    if (isCanonical(a)) return a
  }
  const sideA = toLww(a)
  const sideB = toLww(b)
  let wallet = sideA.wallet
  if (sideA.wallet !== sideB.wallet && !options.adopt) {
    // Format-1 containers folded past their genesis do not know it: they are one wallet if their
    // histories share an event, as earlier builds judged.
    if (!(sideA.legacy || sideB.legacy) || !shareHistory(a, b)) throw new NoCommonAncestorError(a, b)
    wallet = [sideA.wallet, sideB.wallet].sort()[0]!
  }
  return yield* combine([sideA, sideB], wallet, supported)
}

export type Side = {
  S: WalletState
  events: readonly WalletEvent[]
  wallet: string
  watermark: Stamp | null
  legacy: boolean
}

function toLww(container: WalletStateContainer): Side {
  const { S } = container
  if (S.fold.format === LWW_FOLD_FORMAT) {
    return { S, events: container.events, wallet: S.fold.wallet, watermark: S.fold.watermark, legacy: false }
  }
  // Fold format 1: S replayed a prefix of the log, so the greatest stamp in it bounds what it folded.
  return {
    S,
    events: container.events,
    wallet: S.fold.recent[0] ?? S.fold.tipHash,
    watermark: greatestStamp(S),
    legacy: true,
  }
}

function* combine(sides: Side[], wallet: string, supported?: number): Generator<void, WalletStateContainer> {
  const { S, events } = yield* collect(sides, wallet, supported)
  return yield* chainOnto(S, events, supported)
}

/**
 * The joined base state (with every event at or below the watermark folded in) and the events
 * above the watermark, one copy of each, sorted by stamp — not yet chained.
 */
export function* collect(
  sides: Side[],
  wallet: string,
  supported?: number,
): Generator<void, { S: WalletState; events: WalletEvent[] }> {
  let watermark: Stamp | null = null
  for (const side of sides) {
    if (side.watermark && (!watermark || compareStamps(side.watermark, watermark) > 0))
      watermark = side.watermark
  }
  const all: WalletEvent[] = []
  for (const side of sides) for (const event of side.events) all.push(event)
  all.sort(compareEvents)
  yield
  // Copies of one event sort next to each other; the one raised to the newer schema version stays
  // (the same change either way).
  const unique: WalletEvent[] = []
  for (let i = 0; i < all.length; i++) {
    const event = all[i]!
    const last = unique[unique.length - 1]
    if (last && compareEvents(last, event) === 0) {
      if (event.schemaVersion > last.schemaVersion) unique[unique.length - 1] = event
    } else {
      unique.push(event)
    }
    if ((i & 1023) === 1023) yield
  }
  let cut = 0
  if (watermark) while (cut < unique.length && compareEventToStamp(unique[cut]!, watermark) <= 0) cut++
  const fold: LwwFoldInfo = { format: LWW_FOLD_FORMAT, wallet, watermark, tipHash: '' }
  let S = joinStates(
    sides.map((side) => side.S),
    fold,
  )
  if (cut > 0) {
    S = applyEvents(S, unique.slice(0, cut), supported)
    S = joinStates([S], fold)
  }
  yield
  return { S, events: cut > 0 ? unique.slice(cut) : unique }
}

/** S with its tip set, and `events` (sorted, above S's watermark) re-chained onto it. */
export function* chainOnto(
  state: WalletState,
  events: readonly WalletEvent[],
  supported?: number,
): Generator<void, WalletStateContainer> {
  const fold = state.fold as LwwFoldInfo
  const S: WalletState = { ...state, fold: { ...fold, tipHash: '' } }
  S.fold = { ...fold, tipHash: stateDigest(S) }
  yield
  let parent = S.fold.tipHash
  let version = S.schemaVersion
  const out: WalletEvent[] = []
  for (const event of events) {
    version = Math.max(version, event.schemaVersion)
    operationsFor(version, supported)
    const moved = rechained(event, parent, version)
    out.push(moved)
    parent = chainLink(moved)
    if ((out.length & 511) === 0) yield
  }
  return { S, events: out, lastEventHash: parent }
}

function shareHistory(a: WalletStateContainer, b: WalletStateContainer): boolean {
  const known = new Set<string>(a.S.fold.format === LWW_FOLD_FORMAT ? [a.S.fold.tipHash] : a.S.fold.recent)
  for (const event of a.events) known.add(linkOf(a.S.fold.format)(event))
  if (b.S.fold.format !== LWW_FOLD_FORMAT && b.S.fold.recent.some((hash) => known.has(hash))) return true
  const link = linkOf(b.S.fold.format)
  return known.has(b.S.fold.tipHash) || b.events.some((event) => known.has(link(event)))
}

/**
 * Whether a format-2 container is what merging it with itself gives: its events strictly in stamp
 * order, all above the watermark (its S, built by this library, is already joined).
 */
export function isCanonical(container: WalletStateContainer): boolean {
  const { fold } = container.S
  if (fold.format !== LWW_FOLD_FORMAT) return false
  const { events } = container
  if (events.length > 0 && fold.watermark && compareEventToStamp(events[0]!, fold.watermark) <= 0)
    return false
  for (let i = 1; i < events.length; i++) if (compareEvents(events[i - 1]!, events[i]!) >= 0) return false
  return true
}

/** Equal heads of fold format 1: the one that folded more, else the canonically smaller one. */
function preferred(a: WalletStateContainer, b: WalletStateContainer): WalletStateContainer {
  if (a.S.fold.format === undefined && b.S.fold.format === undefined && a.S.fold.count !== b.S.fold.count) {
    return a.S.fold.count > b.S.fold.count ? a : b
  }
  return canonicalize(a) <= canonicalize(b) ? a : b
}

export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const next = steps.next()
    if (next.done) return next.value
  }
}

export async function runInSlices<T>(steps: Generator<void, T>, sliceMs: number): Promise<T> {
  let sliceStart = performance.now()
  for (;;) {
    const next = steps.next()
    if (next.done) return next.value
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setTimeout(resolve, 0))
      sliceStart = performance.now()
    }
  }
}
