import type { AccountProof } from '@wallet-backend/sdk/verify'
import type { Hex } from 'viem'
import type { NodeClient } from '../chain/NodeClient.js'
import { RpcResponseError } from '../chain/rpc/errors.js'

/** The account fields of a contract at a block, as `eth_getProof` serves them. */
export type AccountState = { balance: Hex; nonce: Hex; codeHash: Hex; storageRoot: Hex }

/** What a view call answered: its return data, or that it reverted (a value too: it can change). */
export type CallResult = { result: Hex } | { reverted: true; error: string }

/** The node's EIP-1186 answer is kept: a reading that shows a change is checked against it. */
export type AccountReading = { account: AccountState; slots: Map<Hex, Hex>; proof: AccountProof }

export type AccountRequest = { address: Hex; slots: readonly Hex[]; blockHash: Hex }
export type CallRequest = { address: Hex; data: Hex; blockHash: Hex; blockNumber: number }

/** keccak256 of empty code: the code hash of an address with no contract (yet). */
export const EMPTY_CODE_HASH = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'

const word = (quantity: Hex): Hex => `0x${BigInt(quantity).toString(16).padStart(64, '0')}`
const quantity = (value: Hex): Hex => `0x${BigInt(value).toString(16)}`

/**
 * The account fields and watched slots of each (contract, block), one `eth_getProof` each, all in
 * one batch. Blocks are named by hash (EIP-1898), so a reorg between fetching a block and reading
 * its state cannot answer for another block. A failed read is an Error in its place.
 */
export async function readAccounts(
  node: NodeClient,
  requests: readonly AccountRequest[],
): Promise<(AccountReading | Error)[]> {
  if (requests.length === 0) return []
  const results = await node.batch<AccountProof>(
    requests.map((r) => ({
      method: 'eth_getProof',
      params: [r.address, r.slots, { blockHash: r.blockHash }],
    })),
  )
  return results.map((result) => {
    if (!result.ok) return result.error
    const answer = result.value
    return {
      account: {
        balance: quantity(answer.balance),
        nonce: quantity(answer.nonce),
        codeHash: answer.codeHash.toLowerCase() as Hex,
        storageRoot: answer.storageHash.toLowerCase() as Hex,
      },
      slots: new Map(answer.storageProof.map((p) => [word(p.key), word(p.value)])),
      proof: answer,
    }
  })
}

/**
 * The node answered that it no longer has the state at that block: a node that keeps only recent
 * state, or anvil restarted without its past states. Asking again will not bring it back. (geth,
 * Nethermind: "missing trie node", "historical state … is not available"; reth, erigon: "… pruned";
 * anvil: "BlockOutOfRangeError".)
 */
export function isStateGone(error: Error): boolean {
  return (
    error instanceof RpcResponseError &&
    /missing trie node|historical state|state .*not available|pruned|BlockOutOfRange/i.test(
      error.rpcMessage ?? '',
    )
  )
}

/** A revert is an answer about the contract; anything else that failed is a failed read. */
function isRevert(error: Error): error is RpcResponseError {
  return error instanceof RpcResponseError && (error.rpcCode === 3 || /revert/i.test(error.rpcMessage ?? ''))
}

/**
 * The view calls, one `eth_call` each at its block, all in one batch.
 *
 * A call cannot be proven, so one race is ruled out here: anvil answers a read at its newest block
 * from its live state, which the next block's transactions change while they are mined — a call at
 * the tip made meanwhile answers with the next block's values (its `eth_getProof` does too, and is
 * refused by the state-root check; a call has nothing to check against). Only the newest block
 * asked can be the node's tip: every other one has a successor the node already had. So when the
 * node's head has moved past it once the answers are in, its calls are read again, now from the
 * state kept for that block. One `eth_blockNumber` per batch with calls; a second read only then.
 */
export async function readCalls(
  node: NodeClient,
  requests: readonly CallRequest[],
): Promise<(CallResult | Error)[]> {
  if (requests.length === 0) return []
  const results = await callBatch(node, requests)
  const newest = Math.max(...requests.map((r) => r.blockNumber))
  const head = Number(await node.request<Hex>('eth_blockNumber', []))
  if (head <= newest) return results
  const atNewest = [...requests.keys()].filter((i) => requests[i]!.blockNumber === newest)
  const again = await callBatch(
    node,
    atNewest.map((i) => requests[i]!),
  )
  for (const [j, i] of atNewest.entries()) results[i] = again[j]!
  return results
}

async function callBatch(
  node: NodeClient,
  requests: readonly CallRequest[],
): Promise<(CallResult | Error)[]> {
  const results = await node.batch<Hex>(
    requests.map((r) => ({
      method: 'eth_call',
      params: [{ to: r.address, data: r.data }, { blockHash: r.blockHash }],
    })),
  )
  return results.map((result) => {
    if (result.ok) return { result: result.value.toLowerCase() as Hex }
    if (isRevert(result.error)) return { reverted: true, error: result.error.rpcMessage ?? 'reverted' }
    return result.error
  })
}
