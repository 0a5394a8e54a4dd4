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

/** Header fields, enough to recompute the block hash. */
export type RpcBlockHeader = {
  hash: Hex
  parentHash: Hex
  sha3Uncles: Hex
  miner: Address
  stateRoot: Hex
  transactionsRoot: Hex
  receiptsRoot: Hex
  logsBloom: Hex
  difficulty: Hex
  number: Hex
  gasLimit: Hex
  gasUsed: Hex
  timestamp: Hex
  extraData: Hex
  mixHash: Hex
  nonce: Hex
  baseFeePerGas?: Hex
  withdrawalsRoot?: Hex
  blobGasUsed?: Hex
  excessBlobGas?: Hex
  parentBeaconBlockRoot?: Hex
  requestsHash?: Hex
}

export type RpcBlock<Tx = RpcTransaction> = RpcBlockHeader & {
  transactions: Tx[]
  uncles: Hex[]
  size?: Hex
  totalDifficulty?: Hex
  withdrawals?: unknown[]
}
