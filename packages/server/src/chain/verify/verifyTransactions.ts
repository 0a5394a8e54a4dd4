import { type Hex, hexToBytes, keccak256 } from 'viem'
import type { RpcBlock, RpcTransaction } from '../types.js'
import { computeIndexedTrieRoot } from './computeIndexedTrieRoot.js'
import { encodeTransaction } from './encodeTransaction.js'
import { InconsistentNodeDataError } from './InconsistentNodeDataError.js'

/**
 * Throws InconsistentNodeDataError unless the block's full transactions are the ones
 * `transactionsRoot` commits to: each is re-encoded, must hash to its own `hash`, and all of them
 * must rebuild the root. Returns the trie's leaves, in block order: each transaction as the root
 * commits to it. The sender (`from`) is not recovered here: a signature recovery per
 * transaction would cost more than the rest of following; clients recover it from the proven bytes.
 */
export function verifyTransactions(
  block: Pick<RpcBlock, 'number' | 'hash' | 'transactions'>,
  transactionsRoot: Hex,
): Hex[] {
  const number = Number(block.number)
  const encoded = block.transactions.map((tx, index) => checkTransaction(block, tx, index))
  let leaves = encoded
  let root = rootOf(leaves)
  if (root !== transactionsRoot) {
    // anvil (1.7 at least) commits a blob transaction to the root in its network form, blobs and
    // all. That form holds the signed transaction too, so a root over it binds the same content.
    const pooled = block.transactions.map((tx: RpcTransaction, index) =>
      attempt({ number, hash: block.hash, index }, () => encodeTransaction(tx, 'pooled')),
    )
    if (pooled.some((bytes) => bytes !== undefined)) {
      const alternative = encoded.map((bytes, index) => pooled[index] ?? bytes)
      if (rootOf(alternative) === transactionsRoot) {
        leaves = alternative
        root = transactionsRoot
      }
    }
  }
  if (root !== transactionsRoot) {
    throw new InconsistentNodeDataError(
      `Block ${number}: transactions hash to ${root}, the header says transactionsRoot ${transactionsRoot}`,
      { number, hash: block.hash, computed: root, transactionsRoot },
    )
  }
  return leaves
}

/**
 * Throws InconsistentNodeDataError unless `tx` names `index` as its position and re-encodes to its
 * own `hash`; returns its encoding.
 */
export function checkTransaction(
  block: Pick<RpcBlock, 'number' | 'hash'>,
  tx: RpcTransaction,
  index: number,
): Hex {
  checkPosition(block, tx, index)
  const where = { number: Number(block.number), hash: block.hash, index }
  const bytes = attempt(where, () => encodeTransaction(tx, 'canonical'))
  const computed = keccak256(bytes)
  if (computed !== tx.hash) {
    throw new InconsistentNodeDataError(
      `Block ${where.number}: transaction ${index} encodes to hash ${computed}, not ${tx.hash}`,
      { ...where, computed },
    )
  }
  return bytes
}

/** Throws InconsistentNodeDataError unless the block's `index`-th transaction is there and says so. */
export function checkPosition(block: Pick<RpcBlock, 'number' | 'hash'>, tx: unknown, index: number): void {
  if (typeof tx !== 'object' || tx === null || Number((tx as RpcTransaction).transactionIndex) !== index) {
    const number = Number(block.number)
    throw new InconsistentNodeDataError(
      `Block ${number}: transaction ${index} is missing or names another position`,
      { number, hash: block.hash, index },
    )
  }
}

const rootOf = (leaves: readonly Hex[]): Hex => computeIndexedTrieRoot(leaves.map((leaf) => hexToBytes(leaf)))

/** Encodes, turning what the serializer refuses (a field it finds invalid, an unknown type) into a refusal of the block. */
function attempt<T>(where: { number: number; hash: Hex; index: number }, encode: () => T): T {
  try {
    return encode()
  } catch (error) {
    const message =
      (error as { shortMessage?: string }).shortMessage ??
      (error instanceof Error ? error.message : String(error))
    throw new InconsistentNodeDataError(
      `Block ${where.number}: transaction ${where.index} cannot be encoded to check it: ${message}`,
      where,
    )
  }
}
