import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  canonicalize,
  createContainer,
  foldContainer,
  mergeContainers,
  validateContainer,
  type WalletEvent,
  type WalletStateContainer,
} from '../src/index.js'
import { latestStampModel, observedState } from './latestStampModel.js'

const T = 1_700_000_000

const KINDS: [string, (item: number, n: number) => Record<string, unknown>][] = [
  ['new_credential', (item, n) => ({ credentialId: `c${item}`, n })],
  ['delete_credential', (item) => ({ credentialId: `c${item}` })],
  ['new_keypair', (item, n) => ({ kid: `k${item}`, n })],
  ['delete_keypair', (item) => ({ kid: `k${item}` })],
  ['alter_settings', (item, n) => ({ settings: { choice: item, n } })],
  ['add_address_book_entry', (item, n) => ({ address: `0x${String(item).padStart(40, '0')}`, n })],
  ['remove_address_book_entry', (item) => ({ address: `0x${String(item).padStart(40, '0')}` })],
]

const scenario = fc.integer({ min: 2, max: 6 }).chain((devices) =>
  fc.record({
    devices: fc.constant(devices),
    // Per device, how far its clock is off (seconds): equal and crossed timestamps are common.
    skew: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: devices, maxLength: devices }),
    steps: fc.array(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .record({
              device: fc.nat(devices - 1),
              kind: fc.nat(KINDS.length - 1),
              item: fc.nat(3),
              // Caller-supplied ids from a small pool repeat across devices and items.
              ownId: fc.boolean(),
              id: fc.nat(2),
            })
            .map((edit) => ({ edit })),
        },
        {
          weight: 2,
          arbitrary: fc
            .record({ device: fc.nat(devices - 1), fold: fc.option(fc.nat(3), { nil: null }) })
            .map((sync) => ({ sync })),
        },
        {
          weight: 3,
          arbitrary: fc.record({ device: fc.nat(devices - 1), keep: fc.nat(2) }).map((fold) => ({ fold })),
        },
        { weight: 2, arbitrary: fc.nat(3).map((tick) => ({ tick })) },
      ),
      { maxLength: 60 },
    ),
  }),
)

/** Merges the containers in an order given by `order` (a fold over a permutation). */
function mergeInOrder(containers: WalletStateContainer[], order: number[]) {
  let result = containers[order[0]!]!
  for (const i of order.slice(1)) result = mergeContainers(containers[i]!, result)
  return result
}

describe('devices editing, syncing, folding and going offline in any interleaving', () => {
  it('end byte-identical, holding exactly the latest stamp per item of every edit made', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 0, max: 1_000 }), ({ devices, skew, steps }, seed) => {
        const genesis = createContainer({ walletId: 'model' })
        const local = Array.from({ length: devices }, () => genesis)
        let server = genesis
        const made: WalletEvent[] = []
        let now = T
        let n = 0
        for (const step of steps) {
          if ('tick' in step) now += step.tick
          else if ('edit' in step) {
            const { device, kind, item, ownId, id } = step.edit
            const [type, payload] = KINDS[kind]!
            local[device] = appendEvent(local[device]!, type, payload(item, n++), {
              timestampSeconds: now + skew[device]!,
              ...(ownId ? { eventId: `id-${id}` } : {}),
            })
            made.push(local[device]!.events.at(-1)!)
          } else if ('sync' in step) {
            // What WalletStateSync does: merge with the stored state, fold, store, keep both.
            const { device, fold } = step.sync
            const merged = mergeContainers(local[device]!, server)
            server =
              fold === null ? merged : foldContainer(merged, { now: now + skew[device]!, maxEvents: fold })
            local[device] = mergeContainers(local[device]!, server)
          } else {
            const { device, keep } = step.fold
            local[device] = foldContainer(local[device]!, { now: now + skew[device]!, maxEvents: keep })
          }
        }
        // Any order of merging the devices' containers gives the same bytes.
        const forward = mergeInOrder(
          local,
          local.map((_, i) => i),
        )
        const shuffled = local
          .map((_, i) => i)
          .sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13))
        expect(canonicalize(mergeInOrder(local, shuffled))).toBe(canonicalize(forward))
        // Everyone syncs twice, round robin.
        for (let round = 0; round < 2; round++) {
          for (let d = 0; d < devices; d++) {
            server = mergeContainers(local[d]!, server)
            local[d] = mergeContainers(local[d]!, server)
          }
        }
        const bytes = canonicalize(local[0])
        for (const container of local) {
          validateContainer(container)
          expect(canonicalize(container)).toBe(bytes)
        }
        expect(canonicalize(forward)).toBe(bytes)
        const expected = latestStampModel(made)
        const actual = observedState(local[0]!)
        expect(actual.items).toEqual(expected.items)
        expect(actual.settings).toEqual(expected.settings)
      }),
      { numRuns: 300 },
    )
  }, 60_000)
})
