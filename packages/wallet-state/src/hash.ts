import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalize } from './canonicalize.js'

type NodeCrypto = {
  createHash(algorithm: string): { update(text: string): { digest(encoding: 'hex'): string } }
  /** One-shot hashing (Node 20.12 and later): no Hash object per call. */
  hash?: (algorithm: string, text: string, encoding: 'hex') => string
}

/**
 * Node's own SHA-256, reached without an import so that the library still bundles for browsers
 * (which get @noble/hashes): it is several times faster on the long strings events hash to.
 */
const nodeCrypto = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  try {
    return proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined
  } catch {
    return undefined
  }
})()

/** SHA-256 of a string's UTF-8 bytes, lower-case hex. */
export const sha256Hex: (text: string) => string = nodeCrypto?.hash
  ? (text) => nodeCrypto.hash!('sha256', text, 'hex')
  : nodeCrypto
    ? (text) => nodeCrypto.createHash('sha256').update(text).digest('hex')
    : (text) => bytesToHex(sha256(utf8ToBytes(text)))

/** SHA-256 of the canonical JSON of `value`, lower-case hex. */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalize(value))
}
