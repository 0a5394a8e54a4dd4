import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { type Hex, hexToBytes, toRlp } from 'viem'
import type { RpcReceipt } from '../types.js'

/** The root of an empty Merkle-Patricia trie: keccak256(rlp("")). */
export const EMPTY_TRIE_ROOT: Hex = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421'

const TYPE_BYTE: Record<string, number> = { '0x0': 0, '0x1': 1, '0x2': 2, '0x3': 3, '0x4': 4 }

function quantity(value: Hex): Hex {
  // RLP encodes integers big-endian without leading zeros; zero is the empty string.
  const trimmed = BigInt(value).toString(16)
  return trimmed === '0' ? '0x' : `0x${trimmed.length % 2 ? '0' : ''}${trimmed}`
}

/** The consensus encoding of one receipt (EIP-2718: type byte ‖ RLP for typed receipts). */
export function encodeReceipt(receipt: RpcReceipt): Uint8Array {
  const outcome = receipt.root ?? (receipt.status === '0x1' ? '0x01' : '0x')
  const body = toRlp(
    [
      outcome,
      quantity(receipt.cumulativeGasUsed),
      receipt.logsBloom,
      receipt.logs.map((log) => [log.address, log.topics, log.data]),
    ],
    'bytes',
  )
  const type = TYPE_BYTE[receipt.type ?? '0x0'] ?? Number(receipt.type)
  if (type === 0) return body
  const typed = new Uint8Array(body.length + 1)
  typed[0] = type
  typed.set(body, 1)
  return typed
}

/**
 * Rebuilds the receipts trie of a block and returns its root, to compare with the header's
 * `receiptsRoot`: a node that sends receipts which do not belong to the block is caught here.
 */
export async function computeReceiptsRoot(receipts: readonly RpcReceipt[]): Promise<Hex> {
  if (receipts.length === 0) return EMPTY_TRIE_ROOT
  const trie = new MerklePatriciaTrie()
  for (const receipt of receipts) {
    await trie.put(hexToBytes(toRlp(quantity(receipt.transactionIndex))), encodeReceipt(receipt))
  }
  return `0x${Buffer.from(trie.root()).toString('hex')}` as Hex
}
