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

export type RegistrationProofVerdict =
  | { ok: true }
  /** No proof, or a wrong one: the nonce is spent, as for any failed sign-in. */
  | { ok: false; code: 'PROOF_OF_WORK_REQUIRED' | 'PROOF_OF_WORK_INVALID'; difficulty: number }
  /** A proof of the difficulty asked at issue, but registrations have surged since: the nonce stays usable. */
  | { ok: false; code: 'PROOF_OF_WORK_RAISED'; difficulty: number }

/**
 * Prices a registration when it is redeemed, not when its challenge was issued: the difficulty is
 * the higher of the one asked then and the one that applies now, so challenges stocked while it
 * was calm cannot be spent cheaply in a burst.
 */
export function judgeRegistrationProof(options: {
  nonce: string
  address: string
  solution: string | undefined
  asked: number
  current: number
}): RegistrationProofVerdict {
  const required = Math.max(options.asked, options.current)
  if (required === 0) return { ok: true }
  if (options.solution === undefined)
    return { ok: false, code: 'PROOF_OF_WORK_REQUIRED', difficulty: required }
  if (!verifyProofOfWork(options.nonce, options.address, options.solution, options.asked)) {
    return { ok: false, code: 'PROOF_OF_WORK_INVALID', difficulty: required }
  }
  if (!verifyProofOfWork(options.nonce, options.address, options.solution, required)) {
    return { ok: false, code: 'PROOF_OF_WORK_RAISED', difficulty: required }
  }
  return { ok: true }
}
