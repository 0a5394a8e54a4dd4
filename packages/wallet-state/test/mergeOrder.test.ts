import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  canonicalize,
  createContainer,
  currentState,
  foldContainer,
  InvalidEventError,
  mergeContainers,
  validateContainer,
  type WalletStateContainer,
  WalletStateSchemaVersion1,
  WalletStateSchemaVersion2,
} from '../src/index.js'

const T = 1_700_000_000

function add(
  c: WalletStateContainer,
  type: string,
  payload: Record<string, unknown>,
  timestampSeconds: number,
  eventId: string,
) {
  return appendEvent(c, type, payload, { timestampSeconds, eventId })
}

function both(a: WalletStateContainer, b: WalletStateContainer) {
  const ab = mergeContainers(a, b)
  expect(canonicalize(mergeContainers(b, a))).toBe(canonicalize(ab))
  validateContainer(ab)
  return ab
}

/** A wallet holding credential X, shared by every device. */
const shared = () =>
  add(createContainer({ walletId: 'order' }), 'new_credential', { credentialId: 'X', v: 0 }, T, 'g0')

/**
 * One device deletes X and re-creates it within one second, its ids sorting the other way round:
 * appendEvent stamps the re-create a second on, above the delete it replaces.
 */
const deleteAndRecreate = () =>
  add(
    add(shared(), 'delete_credential', { credentialId: 'X' }, T + 5, 'zz-delete'),
    'new_credential',
    { credentialId: 'X', v: 2 },
    T + 5,
    'aa-recreate',
  )

describe('per item, the latest stamp wins, whichever branch holds it', () => {
  it('a concurrent delete of the same item does not undo the re-create stamped above it', () => {
    expect(deleteAndRecreate().events.at(-1)!.timestampSeconds).toBe(T + 6)
    const other = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 5, 'mm-delete')
    const m = both(deleteAndRecreate(), other)
    expect(currentState(m).credentials.X?.value.v).toBe(2)
    // Two deletions are two events (their contents differ): both are kept, in stamp order.
    expect(m.events.map((e) => e.eventId)).toEqual(['g0', 'mm-delete', 'zz-delete', 'aa-recreate'])
  })

  it('the same holds when the other side folded its delete into S', () => {
    const other = foldContainer(
      add(shared(), 'delete_credential', { credentialId: 'X' }, T + 5, 'mm-delete'),
      {
        now: T + 10,
        maxEvents: 0,
      },
    )
    expect(other.events).toHaveLength(0)
    const m = both(deleteAndRecreate(), other)
    expect(currentState(m).credentials.X?.value.v).toBe(2)
    // What the folded side's watermark covers is folded on merging too; the rest stays in the log.
    expect(m.events.map((e) => e.eventId)).toEqual(['zz-delete', 'aa-recreate'])
  })

  it('a concurrent create of the same item stamped earlier does not swallow the re-create', () => {
    const other = add(shared(), 'new_credential', { credentialId: 'X', v: 1 }, T + 4, 'bb-create')
    const m = both(deleteAndRecreate(), other)
    expect(currentState(m).credentials.X?.value.v).toBe(2)
    expect(m.events.map((e) => e.eventId)).toEqual(['g0', 'bb-create', 'zz-delete', 'aa-recreate'])
  })

  it('of changes to one item made in both branches, the latest stamp stands', () => {
    const a = add(
      add(shared(), 'new_keypair', { kid: 'k', v: 1 }, T + 1, 'a1'),
      'new_keypair',
      { kid: 'k', v: 3 },
      T + 3,
      'a3',
    )
    const b = add(shared(), 'new_keypair', { kid: 'k', v: 2 }, T + 2, 'b2')
    const m = both(a, b)
    expect(m.events.map((e) => e.eventId)).toEqual(['g0', 'a1', 'b2', 'a3'])
    expect(currentState(m).keypairs.k?.value.v).toBe(3)
  })

  it('a later edit from a clock that went back is stamped above its device’s previous change', () => {
    const a = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 8, 'a-delete')
    let b = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 9, 'b-delete')
    b = add(b, 'new_credential', { credentialId: 'X', v: 9 }, T + 1, 'b-readd')
    expect(b.events.at(-1)!.timestampSeconds).toBe(T + 9) // its id sorts above the delete's
    expect(currentState(both(a, b)).credentials.X?.value.v).toBe(9)
    const folded = foldContainer(a, { now: T + 20, maxEvents: 0 })
    expect(currentState(both(folded, b)).credentials.X?.value.v).toBe(9)
  })
})

describe('appendEvent stamps a change above the change it replaces', () => {
  it('moves a same-second change whose id sorts lower one second on', () => {
    const c = add(shared(), 'delete_credential', { credentialId: 'X' }, T, 'zz')
    expect(add(c, 'new_credential', { credentialId: 'X' }, T, 'aa').events.at(-1)!.timestampSeconds).toBe(
      T + 1,
    )
    expect(add(c, 'new_credential', { credentialId: 'X' }, T, 'zzz').events.at(-1)!.timestampSeconds).toBe(T)
    // Another item is no reason to move.
    expect(add(c, 'new_credential', { credentialId: 'Y' }, T, 'aa').events.at(-1)!.timestampSeconds).toBe(T)
  })

  it('takes the time of a change it has seen from a clock ahead, also one folded into S', () => {
    const ahead = add(shared(), 'alter_settings', { settings: { a: 1 } }, T + 3_600, 'm')
    const behind = add(ahead, 'alter_settings', { settings: { a: 2 } }, T, 'n')
    expect(behind.events.at(-1)!.timestampSeconds).toBe(T + 3_600)
    const folded = foldContainer(ahead, { now: T + 3_600, maxEvents: 0 })
    expect(
      add(folded, 'alter_settings', { settings: { a: 2 } }, T, 'a').events.at(-1)!.timestampSeconds,
    ).toBe(T + 3_601)
  })
})

describe('the operations factory', () => {
  it('is frozen', () => {
    for (const operations of [WalletStateSchemaVersion1, WalletStateSchemaVersion2]) {
      expect(Object.isFrozen(operations)).toBe(true)
    }
  })

  it('initialises a state with the collections of its version, and re-parents events onto it', () => {
    const v1 = WalletStateSchemaVersion1.initState('tip')
    const v2 = WalletStateSchemaVersion2.initState('tip')
    expect(v1.contractInterests).toBeUndefined()
    expect(v2.contractInterests).toEqual({})
    expect(v2.addressBook).toEqual({})
    expect(v1.fold).toEqual({ tipHash: 'tip', count: 0, recent: ['tip'] })
    const event = shared().events[0]!
    const moved = WalletStateSchemaVersion2.reparent({ ...event, schemaVersion: 1 }, 'elsewhere')
    expect(moved).toEqual({ ...event, schemaVersion: 2, parentHash: 'elsewhere' })
  })
})

describe('validation of what another device wrote', () => {
  const broken = (change: (e: Record<string, unknown>) => void) => {
    const c = structuredClone(shared())
    change(c.events[0] as unknown as Record<string, unknown>)
    return c
  }

  it('refuses malformed events with a typed error naming them', () => {
    const cases = [
      broken((e) => {
        e.timestampSeconds = 'soon'
      }),
      broken((e) => {
        e.eventId = ''
      }),
      broken((e) => {
        e.payload = null
      }),
      broken((e) => {
        e.payload = { v: 1 } // no credentialId
      }),
      broken((e) => {
        e.type = 'add_contract_interest' // not a version-2 event's type in a version-1 event
        e.schemaVersion = 1
      }),
    ]
    for (const c of cases) {
      expect(() => validateContainer(c)).toThrow(InvalidEventError)
      expect(() => validateContainer(c)).toThrow(/event 0/)
      expect(() => mergeContainers(c, shared())).toThrow(InvalidEventError)
    }
    expect(() => validateContainer({} as WalletStateContainer)).toThrow(InvalidEventError)
  })
})
