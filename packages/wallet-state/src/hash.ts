import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalize } from './canonicalize.js'

/** SHA-256 of the canonical JSON of `value`, lower-case hex. */
export function hashCanonical(value: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalize(value))))
}
