import type { Hex } from '@wallet-backend/sdk'
import { numberToHex } from 'viem'
import { batchTry } from './groundTruth.js'

/**
 * Whether the node itself lost chain data it had served: a block missing below its own head, or a
 * contract of the run without code at its head. anvil's state reload after a crash has done both
 * (under restarts, reorgs and crashes in quick succession); such a run is no verdict on the
 * backend, which can only wait for the node. Returns what is broken, or undefined.
 */
export async function nodeIntegrity(
  nodeUrl: string,
  from: number,
  contracts: readonly Hex[],
): Promise<string | undefined> {
  const [head] = await batchTry<string>(nodeUrl, [{ method: 'eth_blockNumber', params: [] }])
  if (head?.result === undefined) return undefined // down, not broken: the run's own failure says so
  const to = Number(head.result)
  const numbers = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
  const headers = await batchTry<unknown>(
    nodeUrl,
    numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [numberToHex(n), false] })),
  )
  const missing = numbers.filter((_, i) => headers[i]?.result === undefined)
  if (missing.length > 0)
    return `the node at block ${to} has no block ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`
  const codes = await batchTry<string>(
    nodeUrl,
    contracts.map((address) => ({ method: 'eth_getCode', params: [address, 'latest'] })),
  )
  const codeless = contracts.filter((_, i) => (codes[i]?.result ?? '0x') === '0x')
  if (codeless.length > 0) return `the node at block ${to} has no code for ${codeless.join(', ')}`
  return undefined
}
