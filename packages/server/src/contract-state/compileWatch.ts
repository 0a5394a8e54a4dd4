import type { Hex } from 'viem'
import { BaseError } from '../errors/BaseError.js'

export const ACCOUNT_FIELDS = ['balance', 'nonce', 'codeHash', 'storageRoot'] as const
export type AccountField = (typeof ACCOUNT_FIELDS)[number]
export const WATCH_KINDS = [...ACCOUNT_FIELDS, 'slot', 'call'] as const
export type WatchKind = (typeof WATCH_KINDS)[number]

/** The largest `eth_call` data a watch may carry: enough for any view call with a few arguments. */
export const MAX_CALL_DATA_BYTES = 1024

export class InvalidWatchError extends BaseError {
  override readonly name = 'InvalidWatchError'
  constructor(index: number, message: string) {
    super('INVALID_WATCH', `watches[${index}]: ${message}`, { status: 400, details: { index } })
  }
}

/**
 * A validated watch. `key` names the watched value of the contract: clients watching the same
 * value share one key, so the node is asked once per (contract, block, key) however many watch it.
 */
export type CompiledWatch =
  | { kind: AccountField; key: AccountField }
  | { kind: 'slot'; slot: Hex; key: `slot:${Hex}` }
  | { kind: 'call'; data: Hex; key: `call:${Hex}` }

const HEX = /^0x(?:[0-9a-fA-F]{2})*$/
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/

/**
 * Checks a watch's `args` for its `kind`: account fields take none, `slot` one storage slot
 * (a hex number of at most 32 bytes), `call` the `eth_call` data of a view call (selector and
 * arguments). Everything malformed is an InvalidWatchError naming the watch.
 */
export function compileWatch(kind: string, args: readonly unknown[], index: number): CompiledWatch {
  if ((ACCOUNT_FIELDS as readonly string[]).includes(kind)) {
    if (args.length !== 0) throw new InvalidWatchError(index, `${kind} takes no arguments`)
    return { kind: kind as AccountField, key: kind as AccountField }
  }
  if (kind === 'slot') {
    const [slot] = args
    if (args.length !== 1 || typeof slot !== 'string' || !QUANTITY.test(slot)) {
      throw new InvalidWatchError(index, 'slot takes one storage slot, a hex number of at most 32 bytes')
    }
    const padded = `0x${slot.slice(2).toLowerCase().padStart(64, '0')}` as Hex
    return { kind, slot: padded, key: `slot:${padded}` }
  }
  if (kind === 'call') {
    const [data] = args
    if (args.length !== 1 || typeof data !== 'string' || !HEX.test(data) || data.length < 10) {
      throw new InvalidWatchError(
        index,
        'call takes the call data: a 4-byte selector and its arguments, in hex',
      )
    }
    if ((data.length - 2) / 2 > MAX_CALL_DATA_BYTES) {
      throw new InvalidWatchError(index, `call data is longer than ${MAX_CALL_DATA_BYTES} bytes`)
    }
    const lower = data.toLowerCase() as Hex
    return { kind, data: lower, key: `call:${lower}` }
  }
  throw new InvalidWatchError(index, `unknown kind "${kind.slice(0, 40)}"; one of ${WATCH_KINDS.join(', ')}`)
}
