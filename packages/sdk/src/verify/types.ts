import type { Hex } from '../types.js'

/** Header fields as a node's `eth_getBlockByNumber` returns them: enough to recompute the block hash. */
export type BlockHeader = {
  hash: Hex
  parentHash: Hex
  sha3Uncles: Hex
  miner: Hex
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

/** A receipt as `eth_getBlockReceipts` returns it (the fields its consensus encoding needs, and more). */
export type Receipt = {
  transactionHash: Hex
  transactionIndex: Hex
  blockHash: Hex
  status?: Hex
  root?: Hex
  type?: Hex
  cumulativeGasUsed: Hex
  /** OP-stack deposit receipts (since Regolith): the sender's nonce the deposit used. */
  depositNonce?: Hex
  /** OP-stack deposit receipts (since Canyon). */
  depositReceiptVersion?: Hex
  logsBloom: Hex
  logs: { address: Hex; topics: Hex[]; data: Hex; logIndex: Hex; [field: string]: unknown }[]
  [field: string]: unknown
}

/** An EIP-1186 answer (`eth_getProof`). */
export type AccountProof = {
  address: Hex
  balance: Hex
  nonce: Hex
  codeHash: Hex
  storageHash: Hex
  accountProof: Hex[]
  storageProof: { key: Hex; value: Hex; proof: Hex[] }[]
}

/** What `GET /v1/proofs/transaction` answers: a transaction's bytes and the trie nodes above it. */
export type TransactionProof = {
  block: { number: number; hash: Hex }
  transactionsRoot: Hex
  index: number
  /** The transaction as the trie holds it (its EIP-2718 envelope; RLP for a legacy one). */
  transaction: Hex
  /** Trie nodes from `transactionsRoot` down to the transaction, each RLP-encoded. */
  proof: Hex[]
}
