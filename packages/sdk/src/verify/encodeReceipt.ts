import { hexToBytes, toRlp } from 'viem'
import { rlpQuantity } from './quantity.js'
import type { Receipt } from './types.js'

/** The OP-stack deposit transaction type, whose receipts carry fields of their own. */
const DEPOSIT_TYPE = 0x7e

/**
 * The consensus encoding of one receipt (EIP-2718: type byte ‖ RLP for typed receipts). An
 * OP-stack deposit receipt appends its `depositNonce` (since Regolith) and
 * `depositReceiptVersion` (since Canyon) where the node reports them; the L1-fee fields of other
 * OP-stack receipts (`l1Fee`, `l1GasPrice`, …) are not part of the encoding.
 */
export function encodeReceipt(receipt: Receipt): Uint8Array {
  const outcome = receipt.root ?? (receipt.status === '0x1' ? '0x01' : '0x')
  const type = Number(receipt.type ?? '0x0')
  const fields = [
    outcome,
    rlpQuantity(receipt.cumulativeGasUsed),
    receipt.logsBloom,
    receipt.logs.map((log) => [log.address, log.topics, log.data]),
  ]
  if (type === DEPOSIT_TYPE) {
    for (const field of [receipt.depositNonce, receipt.depositReceiptVersion]) {
      if (typeof field !== 'string') break
      fields.push(rlpQuantity(field as `0x${string}`))
    }
  }
  const body = toRlp(fields as never, 'bytes')
  if (type === 0) return body
  const typed = new Uint8Array(body.length + 1)
  typed[0] = type
  typed.set(body, 1)
  return typed
}

/** The key of a receipt (or transaction) in its block's trie: RLP of its index. */
export function receiptKey(index: number): Uint8Array {
  return hexToBytes(toRlp(rlpQuantity(`0x${index.toString(16)}`)))
}
