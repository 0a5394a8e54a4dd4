import { sha256, stringToBytes } from 'viem'

/** Leading zero bits of SHA-256(`${nonce}:${address}:${solution}`). */
export function proofOfWorkBits(nonce: string, address: string, solution: string): number {
  const digest = sha256(stringToBytes(`${nonce}:${address.toLowerCase()}:${solution}`), 'bytes')
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8
      continue
    }
    bits += Math.clz32(byte) - 24
    break
  }
  return bits
}

/**
 * Registration costs a new client work proportional to 2^difficulty hashes and costs the server
 * one hash to check — cheap to verify, expensive to mass-produce identities with.
 */
export function verifyProofOfWork(
  nonce: string,
  address: string,
  solution: string,
  difficulty: number,
): boolean {
  if (difficulty === 0) return true
  if (!/^[0-9]{1,20}$/.test(solution)) return false
  return proofOfWorkBits(nonce, address, solution) >= difficulty
}
