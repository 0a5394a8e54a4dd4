import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  canonicalize,
  createContainer,
  currentState,
  foldContainer,
  validateContainer,
  type WalletStateContainer,
} from '../src/index.js'

const T = 1_700_000_000
const DAY = 86_400

function log(count: number, payload: (i: number) => Record<string, unknown>, step = 1) {
  let c: WalletStateContainer = createContainer({ walletId: 'fold-limits' })
  for (let i = 0; i < count; i++) {
    c = appendEvent(c, 'new_credential', payload(i), { timestampSeconds: T + i * step, eventId: `e${i}` })
  }
  return c
}

describe('fold limits', () => {
  it('measures the size limit in UTF-8 bytes, not in characters', () => {
    // Each event carries 300 two-byte characters: about 2.5 times the characters in bytes.
    const c = log(10, (i) => ({ credentialId: `c${i}`, note: 'é'.repeat(300) }))
    const eventBytes = new TextEncoder().encode(canonicalize(c.events[0])).length
    const folded = foldContainer(c, { now: T, maxBytes: 3 * eventBytes })
    expect(folded.events).toHaveLength(3)
    const kept = folded.events.map((event) => new TextEncoder().encode(canonicalize(event)).length)
    expect(kept.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(3 * eventBytes)
  })

  it('folds nothing while every limit holds, and everything when asked to keep no event', () => {
    const c = log(20, (i) => ({ credentialId: `c${i}` }))
    expect(foldContainer(c, { now: T + 20 })).toBe(c)
    const all = foldContainer(c, { now: T + 20, maxEvents: 0 })
    expect(all.events).toHaveLength(0)
    expect(all.lastEventHash).toBe(all.S.fold.tipHash)
    expect(all.S.fold.format === 2 && all.S.fold.watermark?.slice(0, 2)).toEqual([T + 19, 'e19'])
    expect(Object.keys(currentState(all).credentials)).toHaveLength(20)
    validateContainer(all)
  })

  it('raises the watermark to the last folded stamp and leaves only events above it', () => {
    const c = foldContainer(
      log(30, (i) => ({ credentialId: `c${i}` })),
      { now: T, maxEvents: 10 },
    )
    expect(c.S.fold.format === 2 && c.S.fold.watermark?.slice(0, 2)).toEqual([T + 19, 'e19'])
    expect(c.events.map((event) => event.eventId)).toEqual(Array.from({ length: 10 }, (_, i) => `e${i + 20}`))
    validateContainer(c)
  })

  it('keeps tombstones however old: only they stop an old offline edit bringing a deleted item back', () => {
    let c = log(1, () => ({ credentialId: 'gone' }))
    c = appendEvent(
      c,
      'delete_credential',
      { credentialId: 'gone' },
      { timestampSeconds: T + 1, eventId: 'del' },
    )
    c = foldContainer(c, { now: T + 2, maxEvents: 0 })
    const tombstone = [T + 1, 'del', expect.stringMatching(/^[0-9a-f]{64}$/)]
    expect(c.S.tombstones).toEqual({ 'credentials:gone': tombstone })
    expect(foldContainer(c, { now: T + 4000 * DAY, maxEvents: 0 }).S.tombstones).toEqual({
      'credentials:gone': tombstone,
    })
  })
})
