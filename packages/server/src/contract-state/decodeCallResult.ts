import { type Abi, decodeFunctionData, decodeFunctionResult, type Hex } from 'viem'
import { jsonSafe } from '../utils/jsonSafe.js'

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
  try {
    const { functionName } = decodeFunctionData({ abi: abi as Abi, data })
    const decoded = decodeFunctionResult({ abi: abi as Abi, functionName, data: result })
    return { name: functionName, result: jsonSafe(decoded) }
  } catch {
    return undefined
  }
}
