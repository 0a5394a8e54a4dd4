import { RLP } from '@ethereumjs/rlp'
import { receiptKey } from '@wallet-backend/sdk/verify'
import { type Hex, keccak256 } from 'viem'

type Entry = { key: Uint8Array; value: Uint8Array }
type Node = Uint8Array | Node[]

/**
 * The root of the trie a header commits a block's list to (each value under the RLP of its
 * position), computed in one pass over the sorted keys instead of by inserting into a trie: the
 * follower checks two such roots per block and keeps no trie. Equal to `buildIndexedTrie`'s root.
 */
export function computeIndexedTrieRoot(values: readonly Uint8Array[]): Hex {
  const entries = values
    .map((value, index) => ({ key: nibbles(receiptKey(index)), value }))
    .sort((a, b) => compare(a.key, b.key))
  return keccak256(RLP.encode(node(entries, 0)))
}

function node(entries: Entry[], depth: number): Node {
  if (entries.length === 0) return new Uint8Array()
  const first = entries[0]!
  if (entries.length === 1) return [compact(first.key.subarray(depth), true), first.value]
  const last = entries[entries.length - 1]!
  // Sorted keys: the prefix all of them share is the one the first and the last share.
  let shared = 0
  while (
    depth + shared < first.key.length &&
    depth + shared < last.key.length &&
    first.key[depth + shared] === last.key[depth + shared]
  )
    shared += 1
  if (shared > 0) {
    return [
      compact(first.key.subarray(depth, depth + shared), false),
      reference(node(entries, depth + shared)),
    ]
  }
  const branch: Node[] = Array.from({ length: 17 }, () => new Uint8Array())
  let start = 0
  if (first.key.length === depth) {
    branch[16] = first.value
    start = 1
  }
  for (let i = start; i < entries.length; ) {
    const nibble = entries[i]!.key[depth]!
    let end = i + 1
    while (end < entries.length && entries[end]!.key[depth] === nibble) end += 1
    branch[nibble] = reference(node(entries.slice(i, end), depth + 1))
    i = end
  }
  return branch
}

/** A child node is embedded where its encoding is shorter than a hash, else referred to by its hash. */
function reference(child: Node): Node {
  const encoded = RLP.encode(child)
  return encoded.length < 32 ? child : keccak256(encoded, 'bytes')
}

/** Hex-prefix encoding of a nibble path, with the leaf flag. */
function compact(path: Uint8Array, leaf: boolean): Uint8Array {
  const odd = path.length % 2
  const out = new Uint8Array(Math.floor(path.length / 2) + 1)
  out[0] = ((leaf ? 2 : 0) + odd) << 4
  let at = 0
  if (odd) {
    out[0] |= path[0]!
    at = 1
  }
  for (let i = at, j = 1; i < path.length; i += 2, j += 1) out[j] = (path[i]! << 4) | path[i + 1]!
  return out
}

function nibbles(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2)
  bytes.forEach((byte, i) => {
    out[2 * i] = byte >> 4
    out[2 * i + 1] = byte & 0x0f
  })
  return out
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
