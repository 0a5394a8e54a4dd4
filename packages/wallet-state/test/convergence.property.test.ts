import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  canonicalize,
  createContainer,
  currentState,
  foldContainer,
  hashCanonical,
  mergeContainers,
  operationsFor,
  validateContainer,
  type WalletStateContainer,
} from '../src/index.js'

type Edit = { device: number; kind: number; id: number; dt: number }
type Step = { edit: Edit } | { sync: number }

const KINDS: [string, (id: number) => Record<string, unknown>][] = [
  ['new_credential', (id) => ({ credentialId: `c${id}` })],
  ['delete_credential', (id) => ({ credentialId: `c${id}` })],
  ['new_keypair', (id) => ({ kid: `k${id}` })],
  ['delete_keypair', (id) => ({ kid: `k${id}` })],
  ['alter_settings', (id) => ({ settings: { choice: id } })],
  ['new_presentation', (id) => ({ presentationId: `p${id}` })],
  ['add_address_book_entry', (id) => ({ address: `0x${String(id).padStart(40, '0')}`, name: `n${id}` })],
  ['remove_address_book_entry', (id) => ({ address: `0x${String(id).padStart(40, '0')}` })],
]

const scenario = fc.integer({ min: 2, max: 5 }).chain((devices) =>
  fc.record({
    devices: fc.constant(devices),
    steps: fc.array(
      fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .record({
              device: fc.nat(devices - 1),
              kind: fc.nat(KINDS.length - 1),
              id: fc.nat(3),
              dt: fc.nat(2),
            })
            .map((edit) => ({ edit })),
        },
        { weight: 1, arbitrary: fc.nat(devices - 1).map((sync) => ({ sync })) },
      ),
      { maxLength: 40 },
    ),
  }),
)

/** Server compare-and-set: a device merges what is there with its own, pushes, and adopts the result. */
function sync(local: WalletStateContainer, server: WalletStateContainer): WalletStateContainer {
  const ab = mergeContainers(local, server)
  const ba = mergeContainers(server, local)
  expect(canonicalize(ab)).toBe(canonicalize(ba))
  validateContainer(ab)
  return ab
}

describe('random concurrent edits on 2 to 5 devices', () => {
  it('converge to one state on every device, merge symmetrically, and lose nothing no rule superseded', () => {
    fc.assert(
      fc.property(scenario, ({ devices, steps }) => {
        const genesis = createContainer({ walletId: 'property' })
        let server = genesis
        const local = Array.from({ length: devices }, () => genesis)
        const created: { eventId: string; type: string; subject: string }[] = []
        let clock = 1_700_000_000
        let n = 0
        for (const step of steps as Step[]) {
          if ('edit' in step) {
            const { device, kind, id, dt } = step.edit
            clock += dt
            const [type, payload] = KINDS[kind]!
            // Ids in no particular order, as random ids are: the merge must not depend on their order.
            const eventId = `${hashCanonical(n++).slice(0, 8)}-d${device}`
            local[device] = appendEvent(local[device]!, type, payload(id), {
              timestampSeconds: clock,
              eventId,
            })
            const event = local[device]!.events.at(-1)!
            created.push({ eventId, type, subject: operationsFor(event.schemaVersion).subject(event) })
          } else {
            server = sync(local[step.sync]!, server)
            local[step.sync] = server
          }
        }
        for (let round = 0; round < 2; round++) {
          for (let d = 0; d < devices; d++) {
            server = sync(local[d]!, server)
            local[d] = server
          }
        }
        const final = canonicalize(currentState(server))
        for (const device of local) {
          expect(device.lastEventHash).toBe(server.lastEventHash)
          expect(canonicalize(currentState(device))).toBe(final)
        }
        const kept = new Set(server.events.map((e) => e.eventId))
        const intents = new Set(
          server.events.map((e) => `${e.type}|${operationsFor(e.schemaVersion).subject(e)}`),
        )
        for (const event of created) {
          // Either the event is in the log, or a rule kept another event of the same kind and subject.
          expect(kept.has(event.eventId) || intents.has(`${event.type}|${event.subject}`)).toBe(true)
        }
      }),
      { numRuns: 400 },
    )
  })
})

describe('random concurrent edits with folding on the devices', () => {
  it('still converge and merge symmetrically', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.nat(3), { minLength: 1, maxLength: 10 }),
        ({ devices, steps }, folds) => {
          const genesis = createContainer({ walletId: 'property-fold' })
          let server = genesis
          const local = Array.from({ length: devices }, () => genesis)
          let clock = 1_700_000_000
          let n = 0
          for (const step of steps as Step[]) {
            if ('edit' in step) {
              const { device, kind, id, dt } = step.edit
              clock += dt
              const [type, payload] = KINDS[kind]!
              local[device] = appendEvent(local[device]!, type, payload(id), {
                timestampSeconds: clock,
                eventId: hashCanonical(n++).slice(0, 8),
              })
              const maxEvents = folds[n % folds.length]!
              local[device] = foldContainer(local[device]!, { now: clock, maxEvents })
            } else {
              server = sync(local[step.sync]!, server)
              local[step.sync] = server
            }
          }
          // Bases that both folded concurrent events merge into a new base; the devices that synced
          // before it need one more round to fast-forward to it. Four rounds settle every case seen.
          for (let round = 0; round < 4; round++) {
            for (let d = 0; d < devices; d++) {
              server = sync(local[d]!, server)
              local[d] = server
            }
          }
          // Devices agree on the history (same last event) and on the wallet state; how much of the
          // history each has folded into S is its own business.
          const walletState = (c: WalletStateContainer) => {
            const { fold, ...state } = currentState(c)
            void fold
            return canonicalize(state)
          }
          for (const device of local) {
            expect(device.lastEventHash).toBe(server.lastEventHash)
            expect(walletState(device)).toBe(walletState(server))
          }
        },
      ),
      { numRuns: 400 },
    )
  })
})
