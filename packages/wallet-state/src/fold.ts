import { applyEvents } from './container.js'
import { canonicalEvent, fullStamp } from './eventHash.js'
import { joinStates } from './lww.js'
import { chainOnto, collectSteps, isCanonical, normalizeContainer, runToEnd } from './merge.js'
import type { LwwFoldInfo, WalletStateContainer } from './types.js'

export type FoldPolicy = {
  now?: number
  /** Events older than this are folded into S (default 30 days). */
  maxAgeSeconds?: number
  /** At most this many events stay unfolded (default 1,000). */
  maxEvents?: number
  /** The unfolded events stay below this many bytes of canonical JSON (default 1 MB). */
  maxBytes?: number
}

const DAY = 86_400

/**
 * Folds the events of lowest stamp into S — those older than the age limit, then more until the
 * count and size limits hold — so the log cannot grow without bound. The watermark rises to the
 * last folded stamp; the events left are all above it and are re-chained onto S's new tip.
 * Tombstones stay in S for good: they are what stops a device back from a long time offline
 * bringing a deleted item back.
 */
export function foldContainer(
  container: WalletStateContainer,
  policy: FoldPolicy = {},
): WalletStateContainer {
  const now = policy.now ?? Math.floor(Date.now() / 1000)
  const maxAge = policy.maxAgeSeconds ?? 30 * DAY
  const maxEvents = policy.maxEvents ?? 1000
  const maxBytes = policy.maxBytes ?? 1_000_000
  if (!needsFold(container, now, maxAge, maxEvents) && !sizeExceeded(container.events, maxBytes)) {
    return isCanonical(container) ? container : normalizeContainer(container)
  }
  // Sorted by stamp, what folds is a prefix.
  const { S: base, events } = runToEnd(collectSteps(container))
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
        sizes = events.slice(cut).map((event) => utf8Length(canonicalEvent(event)))
        bytes = sizes.reduce((sum, size) => sum + size, 0)
      }
      if (bytes <= maxBytes) break
    }
    if (sizes) bytes -= sizes[cut - measuredFrom]!
    cut += 1
  }
  const folded = events.slice(0, cut)
  const fold: LwwFoldInfo = {
    ...base.fold,
  } as LwwFoldInfo
  if (cut > 0) fold.watermark = fullStamp(folded.at(-1)!)
  const S = cut > 0 ? joinStates([applyEvents(base, folded)], fold) : base
  return runToEnd(chainOnto(S, events.slice(cut)))
}

function needsFold(container: WalletStateContainer, now: number, maxAge: number, maxEvents: number): boolean {
  if (container.events.length > maxEvents) return true
  return container.events.some((event) => event.timestampSeconds < now - maxAge)
}

function sizeExceeded(events: WalletStateContainer['events'], maxBytes: number): boolean {
  let bytes = 0
  for (const event of events) {
    bytes += utf8Length(canonicalEvent(event))
    if (bytes > maxBytes) return true
  }
  return false
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
