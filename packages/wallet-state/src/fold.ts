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
  const { events } = container
  // Sizes are measured only once the age and count limits hold: folding a long log by count does
  // not serialize the events it folds.
  let sizes: number[] | undefined
  let measuredFrom = 0
  let bytes = 0
  let cut = 0
  while (cut < events.length) {
    const old = events[cut]!.timestampSeconds < now - maxAge
    if (!old && events.length - cut <= maxEvents) {
      if (!sizes) {
        measuredFrom = cut
        sizes = events.slice(cut).map((event) => utf8Length(canonicalize(event)))
        bytes = sizes.reduce((sum, size) => sum + size, 0)
      }
      if (bytes <= maxBytes) break
    }
    if (sizes) bytes -= sizes[cut - measuredFrom]!
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

/** Bytes of `text` in UTF-8, without encoding it: a surrogate pair's two halves count 2 each. */
function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3
  }
  return bytes
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
