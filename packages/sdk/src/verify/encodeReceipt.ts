import { hexToBytes, toRlp } from 'viem'
import { rlpQuantity } from './quantity.js'
import type { Receipt } from './types.js'

/** The consensus encoding of one receipt (EIP-2718: type byte ‖ RLP for typed receipts). */
export function encodeReceipt(receipt: Receipt): Uint8Array {
  const outcome = receipt.root ?? (receipt.status === '0x1' ? '0x01' : '0x')
  const body = toRlp(
    [
      outcome,
      rlpQuantity(receipt.cumulativeGasUsed),
      receipt.logsBloom,
      receipt.logs.map((log) => [log.address, log.topics, log.data]),
    ],
    'bytes',
  )
  const type = Number(receipt.type ?? '0x0')
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
