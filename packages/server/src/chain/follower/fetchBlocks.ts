import { computeBlockHash } from '@wallet-backend/sdk/verify'
import { BaseError } from '../../errors/BaseError.js'
import type { NodeClient, RpcBatchResult } from '../NodeClient.js'
import type { RpcBlock, RpcReceipt } from '../types.js'
import { computeReceiptsRoot } from '../verify/computeReceiptsRoot.js'
import { isKnownTransactionType, transactionType } from '../verify/encodeTransaction.js'
import { InconsistentNodeDataError } from '../verify/InconsistentNodeDataError.js'
import type { UnknownTransactionTypes } from '../verify/UnknownTransactionTypes.js'
import { checkPosition, checkTransaction, verifyTransactions } from '../verify/verifyTransactions.js'

export { InconsistentNodeDataError }

/** What the header does not vouch for in a block taken on the node's word. */
export type Unverified = {
  /** The transaction types in the block this backend cannot re-encode. */
  types: string[]
}

export type FetchedBlock = {
  block: RpcBlock
  receipts: RpcReceipt[]
  /** Set when the block was accepted although its roots could not be checked (`trust-node`). */
  unverified?: Unverified
}

/** A block the node does not have (yet): a head that moved backwards, or a lagging endpoint. */
/** The node does not have a block it should (behind, or pruned): an outage, unlike a proof's BLOCK_NOT_FOUND. */
export class NodeBlockMissingError extends BaseError {
  override readonly name = 'NodeBlockMissingError'
  constructor(number: number) {
    super('NODE_BLOCK_MISSING', `The node has no block ${number}`, { status: 503, details: { number } })
  }
}

const hex = (n: number) => `0x${n.toString(16)}`

function unwrap<T>(result: RpcBatchResult<T> | undefined): T {
  if (!result) throw new Error('batch answered fewer results than calls')
  if (!result.ok) throw result.error
  return result.value
}

/** Nodes that lack eth_getBlockReceipts say so in one of a few ways. */
export function isMethodUnsupported(error: unknown): boolean {
  const rpcCode = (error as { rpcCode?: unknown; data?: unknown }).rpcCode
  if (rpcCode === -32601) return true
  const message = error instanceof Error ? error.message : String(error)
  return /method .*(not found|not supported|does not exist|not available)|unsupported method|unknown method/i.test(
    message,
  )
}

export type ReceiptsMode = {
  perBlock: boolean
  /** Blocks with transaction types this backend cannot check: refused unless `trust-node`. */
  unknownTransactionTypes?: UnknownTransactionTypes
}

/**
 * Fetches blocks with full transactions and their receipts in one JSON-RPC batch, and checks each
 * against its own header: the block hash must be the hash of the header, the transactions must
 * hash to `transactionsRoot`, the receipts to `receiptsRoot`, and their count must match.
 * `mode.perBlock` is switched off for good when the node turns out not to support
 * eth_getBlockReceipts.
 */
export async function fetchBlocks(
  node: NodeClient,
  numbers: number[],
  mode: ReceiptsMode,
): Promise<FetchedBlock[]> {
  if (numbers.length === 0) return []
  const blockCalls = numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [hex(n), true] }))
  let blocks: RpcBlock[]
  let receiptsPerBlock: RpcReceipt[][] | undefined
  if (mode.perBlock) {
    const results = await node.batch([
      ...blockCalls,
      ...numbers.map((n) => ({ method: 'eth_getBlockReceipts', params: [hex(n)] })),
    ])
    blocks = numbers.map((n, i) => {
      const block = unwrap(results[i]) as RpcBlock | null
      if (!block) throw new NodeBlockMissingError(n)
      return block
    })
    const receiptResults = results.slice(numbers.length)
    const failed = receiptResults.find((r) => !r.ok)
    if (failed && !failed.ok && isMethodUnsupported(failed.error)) {
      mode.perBlock = false
    } else {
      receiptsPerBlock = receiptResults.map((r) => unwrap(r) as RpcReceipt[])
    }
  } else {
    const results = await node.batch(blockCalls)
    blocks = numbers.map((n, i) => {
      const block = unwrap(results[i]) as RpcBlock | null
      if (!block) throw new NodeBlockMissingError(n)
      return block
    })
  }
  if (!receiptsPerBlock) {
    const hashes = blocks.flatMap((block) => block.transactions.map((tx) => tx.hash))
    const results =
      hashes.length === 0
        ? []
        : await node.batch(hashes.map((hash) => ({ method: 'eth_getTransactionReceipt', params: [hash] })))
    let next = 0
    receiptsPerBlock = blocks.map((block) =>
      block.transactions.map(() => unwrap(results[next++]) as RpcReceipt),
    )
  }
  const fetched: FetchedBlock[] = []
  for (const [i, block] of blocks.entries()) {
    const receipts = receiptsPerBlock[i] ?? []
    const unverified = await verifyBlock(block, receipts, mode.unknownTransactionTypes)
    fetched.push(unverified ? { block, receipts, unverified } : { block, receipts })
  }
  return fetched
}

/**
 * Throws InconsistentNodeDataError unless the block, its transactions and its receipts are what
 * the header commits to. A block holding transaction types this backend cannot re-encode is
 * refused too, unless `unknownTypes` is `trust-node`: then everything that can be checked without
 * the roots is (the header hash, each position, each known transaction's hash, that every receipt
 * is of this block), and what could not be is returned.
 */
export async function verifyBlock(
  block: RpcBlock,
  receipts: RpcReceipt[],
  unknownTypes: UnknownTransactionTypes = 'refuse',
): Promise<Unverified | undefined> {
  const number = Number(block.number)
  const computed = computeBlockHash(block)
  if (computed !== block.hash) {
    throw new InconsistentNodeDataError(
      `Block ${number}: the header hashes to ${computed}, not ${block.hash}`,
      {
        number,
        hash: block.hash,
        computed,
      },
    )
  }
  const types = unknownTypesOf(block)
  if (types.length > 0 && unknownTypes === 'refuse') {
    throw new InconsistentNodeDataError(
      `Block ${number} holds transactions of type ${types.join(', ')}, which this backend cannot check against its transactionsRoot; --unknown-transaction-types trust-node follows such a chain on the node's word`,
      { number, hash: block.hash, types },
    )
  }
  if (types.length === 0) verifyTransactions(block, block.transactionsRoot)
  else {
    for (const [index, tx] of block.transactions.entries()) {
      checkPosition(block, tx, index)
      if (isKnownTransactionType(transactionType(tx))) checkTransaction(block, tx, index)
    }
  }
  if (receipts.length !== block.transactions.length) {
    throw new InconsistentNodeDataError(
      `Block ${number}: ${receipts.length} receipts for ${block.transactions.length} transactions`,
      { number, hash: block.hash },
    )
  }
  for (const [index, receipt] of receipts.entries()) {
    if (!receipt || receipt.blockHash !== block.hash || Number(receipt.transactionIndex) !== index) {
      throw new InconsistentNodeDataError(
        `Block ${number}: receipt ${index} belongs to another block or position`,
        {
          number,
          hash: block.hash,
          index,
        },
      )
    }
  }
  // A receipt's encoding follows its transaction's type: for a type of its own, no root to rebuild.
  if (types.length > 0) return { types }
  const root = computeReceiptsRoot(receipts)
  if (root !== block.receiptsRoot) {
    throw new InconsistentNodeDataError(
      `Block ${number}: receipts hash to ${root}, the header says receiptsRoot ${block.receiptsRoot}`,
      { number, hash: block.hash, computed: root, receiptsRoot: block.receiptsRoot },
    )
  }
}

/** The distinct transaction types of the block this backend has no encoding for, in block order. */
function unknownTypesOf(block: RpcBlock): string[] {
  const types = new Set<string>()
  for (const tx of block.transactions) {
    if (typeof tx !== 'object' || tx === null) continue
    const type = transactionType(tx)
    if (!isKnownTransactionType(type)) types.add(type)
  }
  return [...types]
}
