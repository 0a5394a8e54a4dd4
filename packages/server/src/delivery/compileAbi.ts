import {
  type AbiEvent,
  type AbiFunction,
  decodeEventLog,
  decodeFunctionData,
  decodeFunctionResult,
  type Hex,
  toEventSelector,
  toFunctionSelector,
} from 'viem'
import type { RpcLog } from '../chain/types.js'
import { jsonSafe } from '../utils/jsonSafe.js'

/**
 * Calldata or log data beyond this is not decoded (the raw data still goes out): decoding costs
 * in proportion to the data, and crafted data (offsets that all point at one array) makes the most
 * of that — about 6 ms for 64 KiB, 25 ms for 256 KiB — inside the follower's transaction.
 */
export const MAX_DECODED_BYTES = 64 * 1024

/** A match decoded with its interest's ABI. */
export type Decoded = { name: string; args: unknown }

/** An interest's ABI indexed by selector and topic0, so decoding a match costs the same whatever its size. */
export type AbiDecoder = {
  decodeCall(input: string): Decoded | undefined
  /** A view call's return data, by the function of its calldata. */
  decodeResult(input: Hex, result: Hex): { name: string; result: unknown } | undefined
  decodeLog(log: Pick<RpcLog, 'data' | 'topics'>): Decoded | undefined
}

/**
 * Indexes the functions and events of `abi` once (one hash per entry). Entries viem cannot make
 * a selector of are left out: ABIs stored before they were validated may hold them. A decoder
 * tries, in ABI order, the entries of the match's selector or topic0 only; viem scans the whole
 * ABI and hashes every entry for each match.
 */
export function compileAbi(abi: unknown): AbiDecoder | undefined {
  if (!Array.isArray(abi) || abi.length === 0) return undefined
  const functions = new Map<string, AbiFunction[]>()
  const events = new Map<string, AbiEvent[]>()
  for (const entry of abi as { type?: unknown; anonymous?: unknown }[]) {
    try {
      if (entry?.type === 'function') {
        add(functions, toFunctionSelector(entry as AbiFunction), entry as AbiFunction)
      } else if (entry?.type === 'event' && entry.anonymous !== true) {
        add(events, toEventSelector(entry as AbiEvent), entry as AbiEvent)
      }
    } catch {
      // Not an entry a match could be decoded with.
    }
  }
  if (functions.size === 0 && events.size === 0) return undefined
  return {
    decodeCall(input) {
      if (input.length < 10 || input.length > 2 + 2 * MAX_DECODED_BYTES) return undefined
      for (const fn of functions.get(input.slice(0, 10).toLowerCase()) ?? []) {
        try {
          const call = decodeFunctionData({ abi: [fn], data: input as Hex })
          return { name: call.functionName, args: jsonSafe(call.args ?? []) }
        } catch {
          // Another overload with this selector may fit.
        }
      }
      return undefined
    },
    decodeResult(input, result) {
      for (const fn of functions.get(input.slice(0, 10).toLowerCase()) ?? []) {
        try {
          decodeFunctionData({ abi: [fn], data: input })
          const decoded = decodeFunctionResult({ abi: [fn], functionName: fn.name, data: result })
          return { name: fn.name, result: jsonSafe(decoded) }
        } catch {
          // Another overload with this selector may fit.
        }
      }
      return undefined
    },
    decodeLog(log) {
      if (log.data.length > 2 + 2 * MAX_DECODED_BYTES) return undefined
      const topic0 = log.topics[0]?.toLowerCase()
      for (const event of (topic0 && events.get(topic0)) || []) {
        try {
          const decoded = decodeEventLog({
            abi: [event],
            data: log.data,
            topics: log.topics as [Hex, ...Hex[]],
          })
          return { name: decoded.eventName ?? '', args: jsonSafe(decoded.args) }
        } catch {
          // The same signature with other indexed parameters (ERC-20 and ERC-721 Transfer) may fit.
        }
      }
      return undefined
    },
  }
}

function add<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key.toLowerCase())
  if (list) list.push(value)
  else map.set(key.toLowerCase(), [value])
}
