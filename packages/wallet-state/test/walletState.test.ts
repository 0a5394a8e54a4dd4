import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  ChainValidationError,
  canonicalize,
  chainLink,
  createContainer,
  currentState,
  foldContainer,
  hashCanonical,
  mergeContainers,
  NoCommonAncestorError,
  UnsupportedSchemaVersionError,
  validateContainer,
  type WalletStateContainer,
  WalletStateSchemaVersion1,
  WalletStateSchemaVersion2,
} from '../src/index.js'
import { stateDigest } from '../src/lww.js'

const T = 1_700_000_000
let seq = 0
/** Appends with a controlled clock and ids, so tests can build same-second and ordered cases. */
function add(c: WalletStateContainer, type: string, payload: Record<string, unknown>, t = T, id?: string) {
  seq += 1
  return appendEvent(c, type, payload, {
    timestampSeconds: t,
    eventId: id ?? `e${String(seq).padStart(6, '0')}`,
  })
}
const ids = (
  c: WalletStateContainer,
  collection:
    | 'credentials'
    | 'keypairs'
    | 'presentations'
    | 'credentialIssuanceSessions'
    | 'contractInterests'
    | 'addressBook',
) => Object.keys(currentState(c)[collection] ?? {}).sort()

describe('canonical JSON and hashing', () => {
  it('follows RFC 8785 for key order, numbers and strings', () => {
    expect(canonicalize({ b: 1, a: [true, null, 'x'], c: { z: 1e21, y: 0.5, '\u00e9': -0 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":0.5,"z":1e+21,"é":0}}',
    )
    expect(canonicalize({ a: undefined, b: 'q"\n' })).toBe('{"b":"q\\"\\n"}')
    expect(() => canonicalize({ n: Number.NaN })).toThrow()
  })

  it('hashes events with SHA-256 of their canonical JSON', () => {
    // Fixed vector: sha256('{"a":1}')
    expect(hashCanonical({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862')
  })
})

describe('every event kind', () => {
  it('puts and deletes each collection, and replaces settings', () => {
    let c = createContainer({ walletId: 'w' })
    c = add(c, 'new_credential', { credentialId: 'c1', format: 'sd-jwt', data: 'x' })
    c = add(c, 'new_keypair', { kid: 'k1', keypair: { alg: 'ES256' } })
    c = add(c, 'new_presentation', { presentationId: 'p1', data: 'y' })
    c = add(c, 'save_credential_issuance_session', { sessionId: 's1', state: 'started' })
    c = add(c, 'alter_settings', { settings: { theme: 'dark' } })
    c = add(c, 'add_contract_interest', {
      chainId: 1,
      address: `0x${'aB'.repeat(20)}`,
      filters: [{ code: 'all', args: [] }],
    })
    c = add(c, 'add_address_book_entry', { address: `0x${'11'.repeat(20)}`, name: 'Alice' })
    expect(ids(c, 'credentials')).toEqual(['c1'])
    expect(ids(c, 'keypairs')).toEqual(['k1'])
    expect(ids(c, 'presentations')).toEqual(['p1'])
    expect(ids(c, 'credentialIssuanceSessions')).toEqual(['s1'])
    expect(ids(c, 'contractInterests')).toEqual([`1:0x${'ab'.repeat(20)}`])
    expect(ids(c, 'addressBook')).toEqual([`0x${'11'.repeat(20)}`])
    expect(currentState(c).settings.values).toEqual({ theme: 'dark' })
    c = add(c, 'delete_credential', { credentialId: 'c1' })
    c = add(c, 'delete_keypair', { kid: 'k1' })
    c = add(c, 'delete_presentation', { presentationId: 'p1' })
    c = add(c, 'delete_credential_issuance_session', { sessionId: 's1' })
    c = add(c, 'remove_contract_interest', { chainId: 1, address: `0x${'ab'.repeat(20)}` })
    c = add(c, 'remove_address_book_entry', { address: `0x${'11'.repeat(20)}` })
    c = add(c, 'alter_settings', { settings: { theme: 'light', lang: 'fi' } })
    for (const collection of [
      'credentials',
      'keypairs',
      'presentations',
      'credentialIssuanceSessions',
      'contractInterests',
      'addressBook',
    ] as const) {
      expect(ids(c, collection)).toEqual([])
    }
    expect(currentState(c).settings.values).toEqual({ theme: 'light', lang: 'fi' })
    expect(Object.keys(currentState(c).tombstones)).toHaveLength(6)
    validateContainer(c)
  })

  it('version 1 has exactly the seed’s kinds and version 2 adds the chain wallet’s', () => {
    expect([...WalletStateSchemaVersion1.eventTypes].sort()).toEqual(
      [
        'alter_settings',
        'delete_credential',
        'delete_credential_issuance_session',
        'delete_keypair',
        'delete_presentation',
        'new_credential',
        'new_keypair',
        'new_presentation',
        'save_credential_issuance_session',
      ].sort(),
    )
    expect(WalletStateSchemaVersion2.eventTypes).toEqual(
      expect.arrayContaining([...WalletStateSchemaVersion1.eventTypes]),
    )
    expect(WalletStateSchemaVersion2.eventTypes).toEqual(
      expect.arrayContaining([
        'add_contract_interest',
        'remove_contract_interest',
        'add_address_book_entry',
        'remove_address_book_entry',
      ]),
    )
    expect(Object.isFrozen(WalletStateSchemaVersion1)).toBe(true)
  })

  it('refuses malformed payloads and unknown types on the device that makes them', () => {
    const c = createContainer()
    expect(() => add(c, 'new_credential', { data: 'no id' })).toThrow(/credentialId/)
    expect(() => add(c, 'teleport', {})).toThrow(/unknown event type/)
    expect(() => add(c, 'add_contract_interest', { chainId: 1, address: 'nope' })).toThrow(/address/)
  })

  it('reducers raise S.schemaVersion to the event’s, never lower it', () => {
    const event = {
      schemaVersion: 1,
      eventId: 'x',
      parentHash: 'p',
      timestampSeconds: 1,
      type: 'alter_settings',
      payload: { settings: {} },
    }
    expect(WalletStateSchemaVersion1.reduce(createContainer().S, event).schemaVersion).toBe(2)
    const v1 = { ...createContainer().S, schemaVersion: 1 }
    expect(WalletStateSchemaVersion2.reduce(v1, { ...event, schemaVersion: 2 }).schemaVersion).toBe(2)
  })
})

describe('chain validation and versions', () => {
  it('names the first broken link', () => {
    let c = createContainer()
    for (let i = 0; i < 4; i++) c = add(c, 'new_keypair', { kid: `k${i}` })
    const broken = structuredClone(c)
    broken.events[2]!.payload.kid = 'tampered'
    let error: unknown
    try {
      validateContainer(broken)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ChainValidationError)
    expect((error as ChainValidationError).index).toBe(3)
  })

  it('an event of an unknown newer version is a typed error, not a crash', () => {
    let c = createContainer()
    c = add(c, 'add_address_book_entry', { address: `0x${'22'.repeat(20)}`, name: 'B' })
    expect(() => currentState(c, 1)).toThrow(UnsupportedSchemaVersionError)
    const future = structuredClone(c)
    future.events[0]!.schemaVersion = 99
    expect(() => validateContainer(future)).toThrow(UnsupportedSchemaVersionError)
    try {
      validateContainer(future)
    } catch (e) {
      expect((e as UnsupportedSchemaVersionError).version).toBe(99)
      expect((e as UnsupportedSchemaVersionError).code).toBe('UNSUPPORTED_SCHEMA_VERSION')
    }
  })

  it('refuses a log whose schema version decreases', () => {
    let c = createContainer()
    c = add(c, 'new_keypair', { kid: 'a' })
    c = add(c, 'new_keypair', { kid: 'b' })
    const bad = structuredClone(c)
    bad.events[1]!.schemaVersion = 1
    // Re-chain so only the version is wrong.
    bad.lastEventHash = WalletStateSchemaVersion1.hashEvent(bad.events[1]!)
    expect(() => validateContainer(bad)).toThrow(/schema version decreased/)
  })
})

describe('folding', () => {
  it('folds by age, by count and by size, keeping the chain and the state', () => {
    let c = createContainer({ walletId: 'fold' })
    for (let i = 0; i < 50; i++)
      c = add(c, 'new_credential', { credentialId: `c${i}`, data: 'x'.repeat(100) }, T + i * 86_400)
    const before = currentState(c)
    const byAge = foldContainer(c, { now: T + 50 * 86_400, maxAgeSeconds: 10 * 86_400 })
    expect(byAge.events.length).toBe(10) // the events of the last 10 days
    expect(byAge.S.fold.format === 2 && byAge.S.fold.watermark?.[0]).toBe(T + 39 * 86_400)
    const byCount = foldContainer(c, { now: T, maxEvents: 5 })
    expect(byCount.events.length).toBe(5)
    const bySize = foldContainer(c, { now: T, maxBytes: 2_000 })
    expect(canonicalize(bySize.events).length).toBeLessThanOrEqual(2_000)
    for (const folded of [byAge, byCount, bySize]) {
      validateContainer(folded)
      expect(folded.events.map((e) => e.eventId)).toEqual(
        c.events.slice(-folded.events.length).map((e) => e.eventId),
      )
      expect(canonicalize(stripFold(currentState(folded)))).toBe(canonicalize(stripFold(before)))
    }
  })
})

function stripFold(state: ReturnType<typeof currentState>) {
  const { fold, ...rest } = state
  void fold
  return rest
}

describe('merge', () => {
  const base = () => {
    let c = createContainer({ walletId: 'merge' })
    c = add(c, 'new_credential', { credentialId: 'shared' }, T)
    return c
  }
  const both = (a: WalletStateContainer, b: WalletStateContainer) => {
    const ab = mergeContainers(a, b)
    const ba = mergeContainers(b, a)
    expect(canonicalize(ab)).toBe(canonicalize(ba))
    validateContainer(ab)
    return ab
  }

  it('fast-forwards, and merging a container with itself changes nothing', () => {
    const a = base()
    const b = add(a, 'new_keypair', { kid: 'k' }, T + 1)
    expect(both(a, b)).toEqual(b)
    expect(mergeContainers(b, b)).toEqual(b)
  })

  it('keeps both new credentials with different ids; of two with the same id, the later stands', () => {
    const a = add(base(), 'new_credential', { credentialId: 'x', from: 'a' }, T + 2)
    const b = add(
      add(base(), 'new_credential', { credentialId: 'y' }, T + 1),
      'new_credential',
      { credentialId: 'x', from: 'b' },
      T + 3,
    )
    const m = both(a, b)
    expect(ids(m, 'credentials')).toEqual(['shared', 'x', 'y'])
    expect(m.events.filter((e) => e.payload.credentialId === 'x')).toHaveLength(2)
    expect(currentState(m).credentials.x?.value.from).toBe('b') // the later one stands
  })

  it('keeps both branches’ deletions and keypair events; the latest per item stands', () => {
    const a = add(
      add(base(), 'delete_credential', { credentialId: 'shared' }, T + 5),
      'new_keypair',
      { kid: 'k', v: 1 },
      T + 6,
    )
    const b = add(
      add(base(), 'delete_credential', { credentialId: 'shared' }, T + 4),
      'new_keypair',
      { kid: 'k', v: 2 },
      T + 7,
    )
    const m = both(a, b)
    expect(m.events.filter((e) => e.type === 'delete_credential')).toHaveLength(2)
    expect(m.events.filter((e) => e.type === 'new_keypair')).toHaveLength(2)
    expect(currentState(m).keypairs.k?.value.v).toBe(2) // the later one stands
    expect(ids(m, 'credentials')).toEqual([])
  })

  it('settings: the latest change wins', () => {
    const a = add(base(), 'alter_settings', { settings: { theme: 'a' } }, T + 10)
    const b = add(base(), 'alter_settings', { settings: { theme: 'b' } }, T + 20)
    expect(currentState(both(a, b)).settings.values).toEqual({ theme: 'b' })
  })

  it('issuance sessions and presentations: one item per id', () => {
    const a = add(
      add(base(), 'save_credential_issuance_session', { sessionId: 's1' }, T + 1),
      'new_presentation',
      { presentationId: 'p' },
      T + 2,
    )
    const b = add(
      add(base(), 'save_credential_issuance_session', { sessionId: 's2' }, T + 1),
      'new_presentation',
      { presentationId: 'p' },
      T + 3,
    )
    const m = both(a, b)
    expect(ids(m, 'credentialIssuanceSessions')).toEqual(['s1', 's2'])
    expect(ids(m, 'presentations')).toEqual(['p'])
  })

  it('keeps a device’s same-second delete and re-create in order, whatever their ids', () => {
    // eventIds chosen so that sorting by (time, id) alone would put the re-create first.
    let a = add(base(), 'delete_credential', { credentialId: 'shared' }, T + 50, 'zzz-delete')
    a = add(a, 'new_credential', { credentialId: 'shared', v: 2 }, T + 50, 'aaa-recreate')
    const b = add(base(), 'new_keypair', { kid: 'other' }, T + 50)
    const m = both(a, b)
    expect(currentState(m).credentials.shared?.value.v).toBe(2)
  })

  it('merges when one side folded more than the other, and a deletion folded away cannot be resurrected', () => {
    let a = base()
    a = add(a, 'new_credential', { credentialId: 'doomed' }, T + 1)
    const fork = a
    a = add(a, 'delete_credential', { credentialId: 'doomed' }, T + 10)
    a = add(a, 'new_keypair', { kid: 'ka' }, T + 11)
    a = foldContainer(a, { now: T + 20, maxEvents: 0 })
    expect(a.events).toHaveLength(0)
    // b comes back with an old branch that still has the credential and re-adds it before the delete.
    const b = add(fork, 'new_credential', { credentialId: 'doomed', again: true }, T + 5)
    const m = both(a, b)
    expect(ids(m, 'credentials')).toEqual(['shared'])
    expect(ids(m, 'keypairs')).toEqual(['ka'])
    // A re-create after the delete does survive.
    const c = add(fork, 'new_credential', { credentialId: 'doomed', later: true }, T + 30)
    expect(ids(both(a, c), 'credentials')).toEqual(['doomed', 'shared'])
  })

  it('merges when both sides folded past the divergence point', () => {
    let a = add(base(), 'new_credential', { credentialId: 'a1' }, T + 1)
    let b = add(base(), 'new_credential', { credentialId: 'b1' }, T + 2)
    b = add(b, 'delete_credential', { credentialId: 'shared' }, T + 3)
    a = foldContainer(add(a, 'new_keypair', { kid: 'late' }, T + 4), { now: T + 10, maxEvents: 1 })
    b = foldContainer(b, { now: T + 10, maxEvents: 0 })
    const m = both(a, b)
    expect(ids(m, 'credentials')).toEqual(['a1', 'b1'])
    expect(ids(m, 'keypairs')).toEqual(['late'])
  })

  it('mixes schema versions and survives an emptied middle version', () => {
    // An old device (version 1 events) and a new one (version 2); the merged log never goes down.
    const old = structuredClone(base())
    let v1 = old
    v1 = { ...v1, events: [...v1.events] }
    const legacy = { ...add(v1, 'new_keypair', { kid: 'old' }, T + 5) }
    legacy.events = legacy.events.map((e, i) =>
      i === legacy.events.length - 1 ? { ...e, schemaVersion: 1 } : e,
    )
    legacy.events[0] = { ...legacy.events[0]!, schemaVersion: 1 }
    // re-chain the edited versions onto a version-1 base
    legacy.S = { ...legacy.S, schemaVersion: 1 }
    legacy.S.fold = { ...legacy.S.fold, tipHash: stateDigest(legacy.S) }
    let parent = legacy.S.fold.tipHash
    legacy.events = legacy.events.map((e) => {
      const rechained = { ...e, parentHash: parent }
      parent = chainLink(rechained)
      return rechained
    })
    legacy.lastEventHash = parent
    validateContainer(legacy)
    let modern = { ...legacy, events: [...legacy.events] }
    modern = add(modern, 'add_address_book_entry', { address: `0x${'33'.repeat(20)}`, name: 'C' }, T + 6)
    modern = foldContainer(modern, { now: T + 100, maxEvents: 0 }) // every v2 event folded: an emptied run
    const older = add(
      { ...legacy, events: [...legacy.events] },
      'new_keypair',
      { kid: 'older-device' },
      T + 7,
    )
    const m = both(modern, older)
    const versions = m.events.map((e) => e.schemaVersion)
    expect(versions).toEqual([...versions].sort())
    expect(ids(m, 'keypairs')).toEqual(['old', 'older-device'])
    expect(ids(m, 'addressBook')).toEqual([`0x${'33'.repeat(20)}`])
  })

  it('reports no common ancestor as a typed error carrying both sides', () => {
    const a = add(createContainer({ walletId: 'one' }), 'new_keypair', { kid: 'a' })
    const b = add(createContainer({ walletId: 'two' }), 'new_keypair', { kid: 'b' })
    let error: unknown
    try {
      mergeContainers(a, b)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(NoCommonAncestorError)
    expect((error as NoCommonAncestorError).a).toBe(a)
    expect((error as NoCommonAncestorError).b).toBe(b)
  })
})
