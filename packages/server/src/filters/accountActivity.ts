import type { AccountMovement, Direction } from '@wallet-backend/sdk'
import { decodeAbiParameters, type Hex } from 'viem'
import type { RpcLog, RpcReceipt, RpcTransaction } from '../chain/types.js'
import { TRANSFER_BATCH_TOPIC, TRANSFER_SINGLE_TOPIC, TRANSFER_TOPIC } from './compileFilter.js'

/** What an account interest can follow. */
export const ACCOUNT_ACTIVITY = ['native', 'tokens', 'approvals', 'userOps', 'internal'] as const
export type AccountActivityKind = (typeof ACCOUNT_ACTIVITY)[number]
/** What an account interest follows when it names nothing: internal transfers cost the node a trace per block, so they are asked for. */
export const DEFAULT_ACCOUNT_ACTIVITY: readonly AccountActivityKind[] = [
  'native',
  'tokens',
  'approvals',
  'userOps',
]

/** Approval(address indexed owner, address indexed spender|approved, uint256 value|tokenId) — ERC-20 and ERC-721. */
export const APPROVAL_TOPIC = '0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925'
/** ApprovalForAll(address indexed owner, address indexed operator, bool approved) — ERC-721 and ERC-1155. */
export const APPROVAL_FOR_ALL_TOPIC = '0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31'
/** ERC-4337 UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed). */
export const USER_OPERATION_TOPIC = '0x49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f'

/**
 * For each event an account interest follows: the kind of activity it is and the topics that hold
 * the addresses it concerns — the only places the index looks an address up, so a log costs at most
 * two map lookups whatever the number of accounts.
 */
export const ACCOUNT_TOPICS: ReadonlyMap<
  string,
  { kind: AccountActivityKind; positions: readonly number[] }
> = new Map([
  [TRANSFER_TOPIC, { kind: 'tokens', positions: [1, 2] }],
  [TRANSFER_SINGLE_TOPIC, { kind: 'tokens', positions: [2, 3] }],
  [TRANSFER_BATCH_TOPIC, { kind: 'tokens', positions: [2, 3] }],
  [APPROVAL_TOPIC, { kind: 'approvals', positions: [1] }],
  [APPROVAL_FOR_ALL_TOPIC, { kind: 'approvals', positions: [1] }],
  [USER_OPERATION_TOPIC, { kind: 'userOps', positions: [2] }],
])

const ZERO_PREFIX = `0x${'0'.repeat(24)}`

/** The address a 32-byte topic holds, lower-case, or undefined when it is not a padded address. */
export function topicAddress(topic: string | undefined): Hex | undefined {
  if (topic?.length !== 66) return undefined
  const lower = topic.toLowerCase()
  return lower.startsWith(ZERO_PREFIX) ? (`0x${lower.slice(26)}` as Hex) : undefined
}

const direction = (fromMe: boolean, toMe: boolean): Direction =>
  fromMe && toMe ? 'self' : fromMe ? 'out' : 'in'
const decimal = (hex: string) => BigInt(hex).toString()
const word = (data: Hex, index: number): string | undefined => {
  const start = 2 + index * 64
  return data.length >= start + 64 ? `0x${data.slice(start, start + 64)}` : undefined
}

/** A transaction sent from or to `account`. */
export function nativeActivity(account: Hex, tx: RpcTransaction, receipt: RpcReceipt): AccountMovement {
  const from = tx.from.toLowerCase() as Hex
  const to = (tx.to ?? receipt.contractAddress)?.toLowerCase() as Hex | undefined
  const fromMe = from === account
  const toMe = to === account
  return {
    type: 'native',
    direction: direction(fromMe, toMe),
    counterparty: (fromMe ? (to ?? null) : from) as Hex | null,
    value: decimal(tx.value),
    success: receipt.status === undefined || receipt.status === '0x1',
  }
}

/**
 * A log that names `account` in one of the topics the index looked it up by, decoded; undefined for
 * a log that only looks like the event (wrong topic count, short data): nothing is made up.
 */
export function logActivity(account: Hex, log: RpcLog): AccountMovement | undefined {
  const topics = log.topics
  const t0 = topics[0]?.toLowerCase()
  const token = log.address.toLowerCase() as Hex
  const data = log.data
  if (t0 === TRANSFER_TOPIC) {
    const from = topicAddress(topics[1])
    const to = topicAddress(topics[2])
    if (!from || !to) return undefined
    const moved = {
      direction: direction(from === account, to === account),
      counterparty: from === account ? to : from,
    }
    if (topics.length === 4)
      return { type: 'token', standard: 'erc721', token, ...moved, tokenId: decimal(topics[3]!) }
    const amount = word(data, 0)
    if (topics.length !== 3 || !amount) return undefined
    return { type: 'token', standard: 'erc20', token, ...moved, amount: decimal(amount) }
  }
  if (t0 === TRANSFER_SINGLE_TOPIC || t0 === TRANSFER_BATCH_TOPIC) {
    const operator = topicAddress(topics[1])
    const from = topicAddress(topics[2])
    const to = topicAddress(topics[3])
    if (!operator || !from || !to || topics.length !== 4) return undefined
    const moved = {
      type: 'token' as const,
      standard: 'erc1155' as const,
      token,
      direction: direction(from === account, to === account),
      counterparty: from === account ? to : from,
      operator,
    }
    if (t0 === TRANSFER_SINGLE_TOPIC) {
      const id = word(data, 0)
      const amount = word(data, 1)
      if (!id || !amount) return undefined
      return { ...moved, tokenId: decimal(id), amount: decimal(amount) }
    }
    try {
      const [ids, amounts] = decodeAbiParameters([{ type: 'uint256[]' }, { type: 'uint256[]' }], data)
      if (ids.length !== amounts.length) return undefined
      return { ...moved, tokenIds: ids.map(String), amounts: amounts.map(String) }
    } catch {
      return undefined
    }
  }
  if (t0 === APPROVAL_TOPIC) {
    const spender = topicAddress(topics[2])
    if (!spender || topicAddress(topics[1]) !== account) return undefined
    if (topics.length === 4)
      return { type: 'approval', standard: 'erc721', token, spender, tokenId: decimal(topics[3]!) }
    const amount = word(data, 0)
    if (topics.length !== 3 || !amount) return undefined
    return { type: 'approval', standard: 'erc20', token, spender, amount: decimal(amount) }
  }
  if (t0 === APPROVAL_FOR_ALL_TOPIC) {
    const operator = topicAddress(topics[2])
    const approved = word(data, 0)
    if (!operator || topics.length !== 3 || !approved || topicAddress(topics[1]) !== account) return undefined
    return {
      type: 'approval',
      standard: 'approvalForAll',
      token,
      spender: operator,
      approved: BigInt(approved) !== 0n,
    }
  }
  if (t0 === USER_OPERATION_TOPIC) {
    const paymaster = topicAddress(topics[3])
    const fields = [0, 1, 2, 3].map((i) => word(data, i))
    if (topics.length !== 4 || !paymaster || fields.some((f) => f === undefined)) return undefined
    const [nonce, success, gasCost, gasUsed] = fields as string[]
    return {
      type: 'userOp',
      entryPoint: token,
      userOpHash: topics[1]!.toLowerCase() as Hex,
      paymaster,
      nonce: decimal(nonce!),
      success: BigInt(success!) !== 0n,
      actualGasCost: decimal(gasCost!),
      actualGasUsed: decimal(gasUsed!),
    }
  }
  return undefined
}
