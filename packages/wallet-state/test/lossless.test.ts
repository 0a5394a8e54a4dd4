import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  ChainValidationError,
  canonicalize,
  chainLink,
  createContainer,
  currentState,
  foldContainer,
  mergeContainers,
  mergeContainersAsync,
  NoCommonAncestorError,
  validateContainer,
  type WalletStateContainer,
} from '../src/index.js'

const T = 1_700_000_000

function add(c: WalletStateContainer, type: string, payload: Record<string, unknown>, t: number, id: string) {
  return appendEvent(c, type, payload, { timestampSeconds: t, eventId: id })
}

describe('merge order never changes the result', () => {
  it('three devices, folding and equal timestamps: both merge orders give the same bytes', () => {
    const genesis = createContainer({ walletId: 'three' })
    // D0, unfolded: settings (t100, n00), then credential 1 = "d0.1" (t100, f01).
    let d0 = add(genesis, 'alter_settings', { settings: { from: 'd0' } }, 100, 'n00')
    d0 = add(d0, 'new_credential', { credentialId: '1', v: 'd0.1' }, 100, 'f01')
    // D1 folded its first event: credential 1 = "d1.0" (t100, j10), credential 3 = "d1.1" (t100, b11).
    let d1 = add(genesis, 'new_credential', { credentialId: '1', v: 'd1.0' }, 100, 'j10')
    d1 = add(d1, 'new_credential', { credentialId: '3', v: 'd1.1' }, 100, 'b11')
    d1 = foldContainer(d1, { now: 100, maxEvents: 1 })
    // D2 folded everything: settings (t101, o20).
    const d2 = foldContainer(add(genesis, 'alter_settings', { settings: { from: 'd2' } }, 101, 'o20'), {
      now: 101,
      maxEvents: 0,
    })
    const first = mergeContainers(mergeContainers(d0, d1), d2)
    const second = mergeContainers(mergeContainers(d0, d2), d1)
    const third = mergeContainers(d0, mergeContainers(d2, d1))
    expect(canonicalize(second)).toBe(canonicalize(first))
    expect(canonicalize(third)).toBe(canonicalize(first))
    const state = currentState(first)
    // (100, j10) is the latest stamp for credential 1; (101, o20) for the settings.
    expect(state.credentials['1']?.value.v).toBe('d1.0')
    expect(state.credentials['3']?.value.v).toBe('d1.1')
    expect(state.settings.values).toEqual({ from: 'd2' })
  })
})

describe('a device back from a long time offline', () => {
  it('merges after the others folded far more than any list of hashes holds, and its old edits lose to newer ones', () => {
    let shared = createContainer({ walletId: 'offline' })
    shared = add(shared, 'new_credential', { credentialId: 'X', v: 'first' }, T, 'x0')
    shared = add(shared, 'new_credential', { credentialId: 'Y', v: 'first' }, T, 'y0')
    // The offline device edits X and adds Z, a little after the fork.
    let offline = add(shared, 'new_credential', { credentialId: 'X', v: 'offline' }, T + 1, 'off-x')
    offline = add(offline, 'new_credential', { credentialId: 'Z', v: 'offline' }, T + 1, 'off-z')
    // Meanwhile the online device deletes X, edits Y, and makes 700 more edits, folding as it goes.
    let online = add(shared, 'delete_credential', { credentialId: 'X' }, T + 5, 'on-del-x')
    online = add(online, 'new_credential', { credentialId: 'Y', v: 'online' }, T + 6, 'on-y')
    for (let i = 0; i < 700; i++) {
      online = add(online, 'new_keypair', { kid: `k${i % 50}`, n: i }, T + 10 + i, `on-${i}`)
      if (i % 50 === 49) online = foldContainer(online, { now: T + 10 + i, maxEvents: 0 })
    }
    expect(online.events).toHaveLength(0)
    const merged = mergeContainers(offline, online)
    expect(canonicalize(mergeContainers(online, offline))).toBe(canonicalize(merged))
    const state = currentState(merged)
    expect(state.credentials.X).toBeUndefined() // the newer delete stands
    expect(state.credentials.Y?.value.v).toBe('online')
    expect(state.credentials.Z?.value.v).toBe('offline') // what nobody else touched is kept
    expect(Object.keys(state.keypairs)).toHaveLength(50)
  })

  it('still refuses to merge two different wallets, with a typed error', () => {
    const a = add(createContainer({ walletId: 'a' }), 'new_keypair', { kid: 'a' }, T, 'a')
    const b = add(createContainer({ walletId: 'b' }), 'new_keypair', { kid: 'b' }, T, 'b')
    expect(() => mergeContainers(a, b)).toThrow(NoCommonAncestorError)
    // Joining on purpose (a device whose own history was never stored) keeps the first's identity.
    const joined = mergeContainers(a, b, { adopt: true })
    expect(joined.S.fold).toMatchObject({ wallet: a.S.fold.format === 2 ? a.S.fold.wallet : '' })
    expect(Object.keys(currentState(joined).keypairs).sort()).toEqual(['a', 'b'])
    expect(joined.events.map((event) => event.timestampSeconds)).toEqual([T, T])
  })
})

describe('an event is its content, not its eventId', () => {
  it('two different events with one id are both kept', () => {
    const shared = createContainer({ walletId: 'ids' })
    const a = add(shared, 'new_credential', { credentialId: 'from-a' }, T + 1, 'dup')
    const b = add(shared, 'new_credential', { credentialId: 'from-b' }, T + 1, 'dup')
    const merged = mergeContainers(a, b)
    expect(canonicalize(mergeContainers(b, a))).toBe(canonicalize(merged))
    expect(Object.keys(currentState(merged).credentials).sort()).toEqual(['from-a', 'from-b'])
    // An id imported from another wallet, reused for another item later, is another event too.
    const later = add(merged, 'new_credential', { credentialId: 'third' }, T + 9, 'dup')
    expect(Object.keys(currentState(mergeContainers(later, a)).credentials)).toHaveLength(3)
  })

  it('one event twice in a log is refused as a broken log', () => {
    const c = add(createContainer({ walletId: 'twice' }), 'new_keypair', { kid: 'k' }, T, 'once')
    const twice = appendRaw(c, c.events[0]!)
    expect(() => validateContainer(twice)).toThrow(ChainValidationError)
    expect(() => validateContainer(twice)).toThrow(/the same event occurs twice/)
  })
})

describe('the async merge', () => {
  it('gives the same bytes as the synchronous one', async () => {
    let a = createContainer({ walletId: 'async' })
    let b = a
    for (let i = 0; i < 3000; i++) {
      a = add(a, 'new_credential', { credentialId: `a${i % 100}`, n: i }, T + i, `a${i}`)
      b = add(b, 'new_credential', { credentialId: `a${i % 100}`, n: -i }, T + i, `b${i}`)
    }
    const sync = mergeContainers(a, b)
    expect(canonicalize(await mergeContainersAsync(a, b, { sliceMs: 1 }))).toBe(canonicalize(sync))
  })
})

/** Chains an event on exactly as given, as another implementation might. */
function appendRaw(c: WalletStateContainer, event: WalletStateContainer['events'][number]) {
  const moved = { ...event, parentHash: c.lastEventHash }
  return { S: c.S, events: [...c.events, moved], lastEventHash: chainLink(moved) }
}

describe('base states folded on different devices', () => {
  it('join per item by stamp: an older folded value never overrides a newer one, in either order', () => {
    const genesis = createContainer({ walletId: 'folded' })
    const older = foldContainer(
      add(genesis, 'new_credential', { credentialId: 'X', v: 'older' }, T + 5, 'a'),
      {
        now: T + 5,
        maxEvents: 0,
      },
    )
    let newer = add(genesis, 'new_credential', { credentialId: 'X', v: 'newer' }, T + 7, 'b')
    newer = add(newer, 'delete_keypair', { kid: 'K' }, T + 7, 'c')
    newer = foldContainer(newer, { now: T + 7, maxEvents: 0 })
    const olderKeypair = foldContainer(add(older, 'new_keypair', { kid: 'K' }, T + 6, 'd'), {
      now: T + 6,
      maxEvents: 0,
    })
    for (const [x, y] of [
      [olderKeypair, newer],
      [newer, olderKeypair],
    ] as const) {
      const state = currentState(mergeContainers(x, y))
      expect(state.credentials.X?.value.v).toBe('newer')
      expect(state.keypairs.K).toBeUndefined() // the later deletion, folded, beats the put
    }
  })
})

describe('appendEvent', () => {
  it('keeps its own copy of the payload: changing the caller’s object later changes no history', () => {
    const payload = { credentialId: 'X', v: 'as made' }
    const c = appendEvent(createContainer({ walletId: 'copy' }), 'new_credential', payload)
    payload.v = 'changed later'
    validateContainer(c)
    expect(currentState(c).credentials.X?.value.v).toBe('as made')
  })
})
