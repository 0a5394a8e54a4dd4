import type { Hex } from 'viem'
import { type AbiDecoder, compileAbi } from '../delivery/compileAbi.js'

/** Each interest's ABI compiled once, for as long as its watch index holds it. */
const compiled = new WeakMap<readonly unknown[], AbiDecoder | undefined>()

/**
 * A view call's return data decoded with the interest's ABI, found by the call's selector; undefined
 * when the ABI has no such function or the data does not fit it (the raw result is still there).
 */
export function decodeCallResult(
  abi: readonly unknown[] | null,
  data: Hex,
  result: Hex,
): { name: string; result: unknown } | undefined {
  if (!abi || abi.length === 0) return undefined
  if (!compiled.has(abi)) compiled.set(abi, compileAbi(abi))
  return compiled.get(abi)?.decodeResult(data, result)
}
