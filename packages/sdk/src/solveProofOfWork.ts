import { sha256, stringToBytes } from 'viem'

function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8
      continue
    }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

/**
 * Finds the registration proof of work: a decimal solution with SHA-256("nonce:address:solution")
 * starting with `difficulty` zero bits. Expected work: 2^difficulty hashes.
 */
export function solveProofOfWork(nonce: string, address: string, difficulty: number): string {
  if (difficulty === 0) return '0'
  const prefix = `${nonce}:${address.toLowerCase()}:`
  for (let solution = 0; ; solution++) {
    if (leadingZeroBits(sha256(stringToBytes(prefix + solution), 'bytes')) >= difficulty)
      return String(solution)
  }
}
