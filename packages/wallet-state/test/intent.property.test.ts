import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  createContainer,
  currentState,
  foldContainer,
  hashCanonical,
  mergeContainers,
  type WalletStateContainer,
} from '../src/index.js'

// Items of two collections, each put or deleted; a put's payload carries its eventId, so the
// final state tells which change won.
const KINDS = [
  {
    type: 'new_credential',
    collection: 'credentials',
    put: true,
    payload: (id: number) => ({ credentialId: `c${id}` }),
  },
  {
    type: 'delete_credential',
    collection: 'credentials',
    put: false,
    payload: (id: number) => ({ credentialId: `c${id}` }),
  },
  { type: 'new_keypair', collection: 'keypairs', put: true, payload: (id: number) => ({ kid: `c${id}` }) },
  {
    type: 'delete_keypair',
    collection: 'keypairs',
    put: false,
    payload: (id: number) => ({ kid: `c${id}` }),
  },
] as const

const scenario = fc.integer({ min: 2, max: 4 }).chain((devices) =>
  fc.record({
    devices: fc.constant(devices),
    folding: fc.boolean(),
    steps: fc.array(
      fc.oneof(
        {
          weight: 3,
          arbitrary: fc.record({
            device: fc.nat(devices - 1),
            kind: fc.nat(KINDS.length - 1),
            id: fc.nat(4),
            dt: fc.nat(1),
          }),
        },
        { weight: 1, arbitrary: fc.record({ sync: fc.nat(devices - 1) }) },
      ),
      { maxLength: 40 },
    ),
  }),
)

describe('what one device alone did to an item is what every device ends with', () => {
  it('after any interleaving of syncs, with or without folding', () => {
    fc.assert(
      fc.property(scenario, ({ devices, folding, steps }) => {
        const genesis = createContainer({ walletId: 'intent' })
        let server = genesis
        const local: WalletStateContainer[] = Array.from({ length: devices }, () => genesis)
        // item → the devices that changed it, and the last change made to it
        const touched = new Map<string, { devices: Set<number>; last: { put: boolean; eventId: string } }>()
        let clock = 1_700_000_000
        let n = 0
        const settle = (d: number) => {
          server = mergeContainers(local[d]!, server)
          local[d] = server
        }
        for (const step of steps) {
          if ('sync' in step) {
            settle(step.sync)
            continue
          }
          clock += step.dt
          const kind = KINDS[step.kind]!
          const eventId = hashCanonical(n++).slice(0, 10)
          const payload = { ...kind.payload(step.id), by: eventId }
          local[step.device] = appendEvent(local[step.device]!, kind.type, payload, {
            timestampSeconds: clock,
            eventId,
          })
          if (folding)
            local[step.device] = foldContainer(local[step.device]!, { now: clock, maxEvents: n % 3 })
          const item = `${kind.collection}:c${step.id}`
          const entry = touched.get(item) ?? { devices: new Set<number>(), last: { put: kind.put, eventId } }
          entry.devices.add(step.device)
          entry.last = { put: kind.put, eventId }
          touched.set(item, entry)
        }
        for (let round = 0; round < 4; round++) for (let d = 0; d < devices; d++) settle(d)
        const state = currentState(server)
        for (const [item, { devices: by, last }] of touched) {
          if (by.size !== 1) continue
          const [collection, id] = item.split(':') as ['credentials' | 'keypairs', string]
          const value = state[collection][id]?.value
          if (last.put) expect(value?.by, item).toBe(last.eventId)
          else expect(value, item).toBeUndefined()
        }
      }),
      { numRuns: 300 },
    )
  })
})
