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

/**
 * Appends an event exactly as given. appendEvent moves a change that would stamp below the one it
 * replaces; events written by other implementations or older builds may not, and merge must
 * still keep each device's order for them.
 */
function raw(c: WalletStateContainer, type: string, payload: Record<string, unknown>, t: number, id: string) {
  const event = {
    schemaVersion: 2,
    eventId: id,
    parentHash: c.lastEventHash,
    timestampSeconds: t,
    type,
    payload,
  }
  return { S: c.S, events: [...c.events, event], lastEventHash: WalletStateSchemaVersion2.hashEvent(event) }
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

/** One device deletes X and re-creates it within one second, its ids sorting the other way round. */
const deleteAndRecreate = () =>
  raw(
    add(shared(), 'delete_credential', { credentialId: 'X' }, T + 5, 'zz-delete'),
    'new_credential',
    { credentialId: 'X', v: 2 },
    T + 5,
    'aa-recreate',
  )

describe('a device’s own order survives the other branch’s duplicates', () => {
  it('a concurrent delete of the same item does not undo the re-create', () => {
    const other = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 5, 'mm-delete')
    const m = both(deleteAndRecreate(), other)
    expect(currentState(m).credentials.X?.value.v).toBe(2)
    // The two deletions are one change: one of them is left.
    expect(m.events.filter((e) => e.type === 'delete_credential')).toHaveLength(1)
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
  })

  it('a concurrent create of the same item earlier does not swallow the re-create', () => {
    const other = add(shared(), 'new_credential', { credentialId: 'X', v: 1 }, T + 4, 'bb-create')
    const m = both(deleteAndRecreate(), other)
    expect(currentState(m).credentials.X?.value.v).toBe(2)
    // The other create is the same change made earlier: the later one stands.
    expect(m.events.map((e) => e.eventId)).toEqual(['g0', 'zz-delete', 'aa-recreate'])
  })

  it('of the same change made in both branches the last one stands, whichever branch made it', () => {
    const a = add(
      add(shared(), 'new_keypair', { kid: 'k', v: 1 }, T + 1, 'a1'),
      'new_keypair',
      { kid: 'k', v: 3 },
      T + 3,
      'a3',
    )
    const b = add(shared(), 'new_keypair', { kid: 'k', v: 2 }, T + 2, 'b2')
    const m = both(a, b)
    // b2 is followed by a's a3, which stands; a1's later twin b2 is gone, so a1 stays.
    expect(m.events.map((e) => e.eventId)).toEqual(['g0', 'a1', 'a3'])
    expect(currentState(m).keypairs.k?.value.v).toBe(3)
    // A device's own repeats, with nothing of the other branch, all stay.
    const c = add(shared(), 'new_keypair', { kid: 'j' }, T + 1, 'c1')
    expect(both(a, c).events.map((e) => e.eventId)).toEqual(['g0', 'a1', 'c1', 'a3'])
  })

  it('a later event with an earlier clock stays after its device’s previous events', () => {
    // b's clock went back; its re-add of X still follows its delete, and beats a's older delete.
    const a = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 8, 'a-delete')
    let b = add(shared(), 'delete_credential', { credentialId: 'X' }, T + 9, 'b-delete')
    b = raw(b, 'new_credential', { credentialId: 'X', v: 9 }, T + 1, 'b-readd')
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
  it('gives every event type a merge strategy; settings changes are never repeats', () => {
    for (const operations of [WalletStateSchemaVersion1, WalletStateSchemaVersion2]) {
      expect(Object.keys(operations.mergeStrategies).sort()).toEqual([...operations.eventTypes].sort())
      expect(Object.isFrozen(operations)).toBe(true)
    }
    const settings = (id: string) => ({
      schemaVersion: 1,
      eventId: id,
      parentHash: '',
      timestampSeconds: T,
      type: 'alter_settings',
      payload: { settings: {} },
    })
    expect(WalletStateSchemaVersion1.mergeStrategies.alter_settings!(settings('a'), settings('b'))).toBe(
      false,
    )
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
