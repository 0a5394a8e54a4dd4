import type { Hex } from 'viem'
import type { TestAnvil } from './anvil.js'

const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
const TRANSFER_SINGLE = '0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62'
const TRANSFER_BATCH = '0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb'
const APPROVAL = '0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925'
const APPROVAL_FOR_ALL = '0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31'
const USER_OPERATION = '0x49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f'

type NodeLog = { blockNumber: Hex; transactionIndex: Hex; logIndex: Hex; address: Hex }
type NodeBlock = { number: Hex; transactions: { from: Hex; to: Hex | null; transactionIndex: Hex }[] }

/** `block:txIndex:logIndex` of an item read from a log, `block:txIndex:tx` of one read from its transaction. */
export const activityKey = (block: number | Hex, txIndex: number | Hex, logIndex: number | Hex | null) =>
  `${Number(block)}:${Number(txIndex)}:${logIndex === null ? 'tx' : Number(logIndex)}`

/**
 * What the node says touched `account` in blocks `from`..`to`: address-less eth_getLogs queries by
 * topic (one per event and topic position the account can stand in) and the blocks' transactions
 * from or to it. Keys of the activity, with its type, sorted in chain order.
 */
export async function accountTruth(
  anvil: TestAnvil,
  account: Hex,
  from: number,
  to: number,
): Promise<{ key: string; type: string }[]> {
  const topic = `0x${account.slice(2).toLowerCase().padStart(64, '0')}`
  const range = { fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` }
  const queries: [string, (string | null)[]][] = [
    ['token', [TRANSFER, topic]],
    ['token', [TRANSFER, null, topic]],
    ['token', [[TRANSFER_SINGLE, TRANSFER_BATCH] as unknown as string, null, topic]],
    ['token', [[TRANSFER_SINGLE, TRANSFER_BATCH] as unknown as string, null, null, topic]],
    ['approval', [[APPROVAL, APPROVAL_FOR_ALL] as unknown as string, topic]],
    ['userOp', [USER_OPERATION, null, topic]],
  ]
  const found = new Map<string, { key: string; type: string; order: number[] }>()
  for (const [type, topics] of queries) {
    for (const log of await anvil.rpc<NodeLog[]>('eth_getLogs', [{ ...range, topics }])) {
      const key = activityKey(log.blockNumber, log.transactionIndex, log.logIndex)
      found.set(key, {
        key,
        type,
        order: [Number(log.blockNumber), Number(log.transactionIndex), Number(log.logIndex)],
      })
    }
  }
  const me = account.toLowerCase()
  for (let n = from; n <= to; n++) {
    const block = await anvil.rpc<NodeBlock>('eth_getBlockByNumber', [`0x${n.toString(16)}`, true])
    for (const tx of block.transactions) {
      if (tx.from.toLowerCase() !== me && tx.to?.toLowerCase() !== me) continue
      const key = activityKey(n, tx.transactionIndex, null)
      found.set(key, { key, type: 'native', order: [n, Number(tx.transactionIndex), -1] })
    }
  }
  return [...found.values()]
    .sort((a, b) => a.order[0]! - b.order[0]! || a.order[1]! - b.order[1]! || a.order[2]! - b.order[2]!)
    .map(({ key, type }) => ({ key, type }))
}
