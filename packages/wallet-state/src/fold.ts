import { canonicalize } from './canonicalize.js'
import { applyEvents } from './container.js'
import { operationsFor } from './schema/versions.js'
import type { WalletState, WalletStateContainer } from './types.js'

export type FoldPolicy = {
  now?: number
  /** Events older than this are folded into S (default 30 days). */
  maxAgeSeconds?: number
  /** At most this many events stay unfolded (default 1,000). */
  maxEvents?: number
  /** The unfolded events stay below this many bytes of canonical JSON (default 1 MB). */
  maxBytes?: number
  /** Tombstones older than this are dropped (default 365 days): deletions outlive any realistic offline device. */
  tombstoneRetentionSeconds?: number
  /** Folded event hashes kept for finding common ancestors (default 512). */
  recentHashes?: number
}

const DAY = 86_400

/**
 * Folds the oldest events into S — those older than the age limit, then more until the count and
 * size limits hold — so the log cannot grow without bound. Folding keeps the chain: the last
 * folded event's hash becomes S.fold.tipHash, the first remaining event's parent.
 */
export function foldContainer(
  container: WalletStateContainer,
  policy: FoldPolicy = {},
): WalletStateContainer {
  const now = policy.now ?? Math.floor(Date.now() / 1000)
  const maxAge = policy.maxAgeSeconds ?? 30 * DAY
  const maxEvents = policy.maxEvents ?? 1000
  const maxBytes = policy.maxBytes ?? 1_000_000
  const keepHashes = policy.recentHashes ?? 512
  const sizes = container.events.map((event) => canonicalize(event).length)
  let bytes = sizes.reduce((sum, size) => sum + size, 0)
  let cut = 0
  while (cut < container.events.length) {
    const event = container.events[cut]!
    const old = event.timestampSeconds < now - maxAge
    if (!old && container.events.length - cut <= maxEvents && bytes <= maxBytes) break
    bytes -= sizes[cut]!
    cut += 1
  }
  if (cut === 0) return pruneTombstones(container, now, policy)
  const folded = container.events.slice(0, cut)
  let state: WalletState = applyEvents(container.S, folded)
  const recent = [...container.S.fold.recent]
  let tipHash = container.S.fold.tipHash
  // Only the hashes that can still be kept are computed.
  for (const event of folded.slice(-keepHashes)) {
    tipHash = operationsFor(event.schemaVersion).hashEvent(event)
    recent.push(tipHash)
  }
  state = { ...state, fold: { tipHash, count: state.fold.count + cut, recent: recent.slice(-keepHashes) } }
  return pruneTombstones(
    { S: state, events: container.events.slice(cut), lastEventHash: container.lastEventHash },
    now,
    policy,
  )
}

function pruneTombstones(
  container: WalletStateContainer,
  now: number,
  policy: FoldPolicy,
): WalletStateContainer {
  const horizon = now - (policy.tombstoneRetentionSeconds ?? 365 * DAY)
  const entries = Object.entries(container.S.tombstones)
  const kept = entries.filter(([, stamp]) => stamp[0] >= horizon)
  if (kept.length === entries.length) return container
  return { ...container, S: { ...container.S, tombstones: Object.fromEntries(kept) } }
}
