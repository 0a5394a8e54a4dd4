import type { Hex } from '../types.js'

/** A hex quantity as RLP encodes integers: big-endian without leading zeros, zero as the empty string. */
export function rlpQuantity(value: Hex): Hex {
  const trimmed = BigInt(value).toString(16)
  return trimmed === '0' ? '0x' : `0x${trimmed.length % 2 ? '0' : ''}${trimmed}`
}
