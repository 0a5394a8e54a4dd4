import type { BlockHeader } from '@wallet-backend/sdk/verify'
import type { Address, Hex } from 'viem'

/** A log as the node's JSON-RPC returns it. */
export type RpcLog = {
  address: Address
  topics: Hex[]
  data: Hex
  blockNumber: Hex
  blockHash: Hex
  transactionHash: Hex
  transactionIndex: Hex
  logIndex: Hex
  removed?: boolean
}

/** A receipt as `eth_getBlockReceipts` / `eth_getTransactionReceipt` return it. */
export type RpcReceipt = {
  transactionHash: Hex
  transactionIndex: Hex
  blockHash: Hex
  blockNumber: Hex
  from: Address
  to: Address | null
  contractAddress: Address | null
  cumulativeGasUsed: Hex
  gasUsed: Hex
  effectiveGasPrice?: Hex
  logs: RpcLog[]
  logsBloom: Hex
  status?: Hex
  /** Pre-Byzantium receipts carry a state root instead of a status. */
  root?: Hex
  type?: Hex
}

/** A transaction inside a block fetched with full transactions. */
export type RpcTransaction = {
  hash: Hex
  from: Address
  to: Address | null
  input: Hex
  value: Hex
  nonce: Hex
  gas: Hex
  transactionIndex: Hex
  blockHash: Hex
  blockNumber: Hex
  type?: Hex
  chainId?: Hex
  [field: string]: unknown
}

/** Header fields, enough to recompute the block hash (the client SDK checks the same ones). */
export type RpcBlockHeader = BlockHeader

export type RpcBlock<Tx = RpcTransaction> = RpcBlockHeader & {
  transactions: Tx[]
  uncles: Hex[]
  size?: Hex
  totalDifficulty?: Hex
  withdrawals?: unknown[]
}
