import { formatTransaction, type Hex, type Signature, serializeTransaction } from 'viem'
import { serializeTransaction as serializeOpStackTransaction } from 'viem/op-stack'
import { BaseError } from '../../errors/BaseError.js'
import type { RpcTransaction } from '../types.js'

/** A transaction type whose consensus encoding this backend does not know (a chain's own types). */
export class TransactionTypeUnsupportedError extends BaseError {
  override readonly name = 'TransactionTypeUnsupportedError'
  constructor(type: string) {
    super('TRANSACTION_TYPE_UNSUPPORTED', `transaction type ${type} has no known consensus encoding`, {
      status: 502,
      details: { type },
    })
  }
}

/** The OP-stack deposit transaction (an L1 → L2 message, and each block's L1-info transaction). */
export const DEPOSIT_TYPE = '0x7e'

const KNOWN_TYPES = new Set(['0x0', '0x1', '0x2', '0x3', '0x4', DEPOSIT_TYPE])

/** A transaction's EIP-2718 type as a minimal hex quantity (`0x0` for a legacy one, `0x7e`). */
export function transactionType(tx: Pick<RpcTransaction, 'type'>): string {
  return tx.type === undefined ? '0x0' : `0x${BigInt(tx.type).toString(16)}`
}

/** Whether this backend can re-encode transactions of `type` (as `transactionType` names it). */
export function isKnownTransactionType(type: string): boolean {
  return KNOWN_TYPES.has(type)
}

/**
 * The consensus encoding of a signed transaction as a block holds it and `transactionsRoot`
 * commits to: the RLP list for a legacy one, type byte ‖ RLP for EIP-2718 envelopes (2930, 1559,
 * 4844 without its blobs, 7702, and the OP-stack deposit). Its keccak is the transaction hash.
 *
 * `pooled` asks instead for a blob transaction's network form, with the blobs, commitments and
 * proofs the node sent along (undefined when it sent none): what anvil commits its roots to.
 */
export function encodeTransaction(tx: RpcTransaction, form: 'canonical'): Hex
export function encodeTransaction(tx: RpcTransaction, form: 'pooled'): Hex | undefined
export function encodeTransaction(tx: RpcTransaction, form: 'canonical' | 'pooled'): Hex | undefined {
  const type = transactionType(tx)
  if (!isKnownTransactionType(type)) throw new TransactionTypeUnsupportedError(type)
  if (type === DEPOSIT_TYPE) return form === 'pooled' ? undefined : encodeDeposit(tx)
  const { blobs, commitments, proofs, sidecars: _sidecars, ...body } = tx as RpcTransaction & Sidecar
  // The node's field is `input`; the serializer reads `data`.
  const formatted = { ...formatTransaction({ ...body, type } as never), data: tx.input }
  if (form === 'pooled') {
    if (type !== '0x3' || !blobs?.length || blobs.length !== commitments?.length) return undefined
    // One proof per blob: an EIP-7594 sidecar (cell proofs) has another network form.
    if (blobs.length !== proofs?.length) return undefined
    const pooled = blobs.map((blob, i) => ({ blob, commitment: commitments[i]!, proof: proofs[i]! }))
    return serializeTransaction({ ...formatted, sidecars: pooled } as never)
  }
  // Without its sidecar fields (some nodes send them along): the block holds the bare transaction.
  if (type !== '0x0') return serializeTransaction(formatted as never)
  const v = BigInt(tx.v as Hex)
  // A pre-EIP-155 signature (v 27 or 28) signs no chain id, even where the node names one: with a
  // chain id the serializer would write an EIP-155 v instead of the one signed.
  const legacy = v < 35n ? { ...formatted, chainId: undefined } : formatted
  const signature: Signature = { r: tx.r as Hex, s: tx.s as Hex, v }
  return serializeTransaction(legacy as never, signature)
}

/**
 * A deposit is unsigned: its sender is one of its fields, so the hash binds `from` as well.
 * Nodes leave `isSystemTx` out when it is false (op-geth sends `true`, anvil `0x1`) and `mint`
 * out when nothing is minted.
 */
function encodeDeposit(tx: RpcTransaction): Hex {
  const { sourceHash, mint, isSystemTx } = tx as RpcTransaction & Deposit
  return serializeOpStackTransaction({
    type: 'deposit',
    sourceHash,
    from: tx.from,
    to: tx.to,
    mint: mint === undefined || mint === null ? undefined : BigInt(mint),
    value: BigInt(tx.value),
    gas: BigInt(tx.gas),
    isSystemTx: isSystemTx === true || (typeof isSystemTx === 'string' && BigInt(isSystemTx) !== 0n),
    data: tx.input,
  })
}

type Sidecar = { blobs?: Hex[]; commitments?: Hex[]; proofs?: Hex[]; sidecars?: unknown }
type Deposit = { sourceHash: Hex; mint?: Hex | null; isSystemTx?: boolean | Hex }
